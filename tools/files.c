#include "tools/files.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "tools/tool.h"

#define MAX_FILE (64u << 20)

int file_read(const char *path, struct cr_bytes *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *grown;
	size_t len = 0, cap = 0, n;

	out->data = NULL;
	out->len = 0;
	if (f == NULL)
		return fail(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
	do {
		if (len == cap) {
			cap = cap == 0 ? 65536 : 2 * cap;
			grown = cap <= MAX_FILE ? realloc(buf, cap) : NULL;
			if (grown == NULL) {
				free(buf);
				fclose(f);
				return fail(EXIT_ERROR, "%s is too large (the limit is 64 MiB)", path);
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return fail(EXIT_ERROR, "cannot read %s: %s", path, strerror(errno));
	}
	fclose(f);
	out->data = buf;
	out->len = len;
	return EXIT_OK;
}

int file_write(const char *path, const uint8_t *data, size_t len)
{
	bool to_stdout = path == NULL || strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "wb");
	bool ok;

	if (f == NULL)
		return fail(EXIT_ERROR, "cannot write %s: %s", path, strerror(errno));
	ok = fwrite(data, 1, len, f) == len;
	ok = (to_stdout ? fflush(f) : fclose(f)) == 0 && ok;
	if (!ok)
		return fail(EXIT_ERROR, "cannot write %s: %s", to_stdout ? "the output" : path, strerror(errno));
	return EXIT_OK;
}

int pem_wrap(const char *label, const uint8_t *der, size_t len, struct cr_bytes *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *text;
	long n;

	out->data = NULL;
	out->len = 0;
	if (bio == NULL || PEM_write_bio(bio, label, "", der, (long)len) <= 0) {
		BIO_free(bio);
		return fail(EXIT_ERROR, "cannot encode PEM");
	}
	n = BIO_get_mem_data(bio, &text);
	out->data = malloc((size_t)n);
	if (out->data != NULL) {
		memcpy(out->data, text, (size_t)n);
		out->len = (size_t)n;
	}
	BIO_free(bio);
	return out->data != NULL ? EXIT_OK : fail(EXIT_ERROR, "out of memory");
}

int cert_from_file(const char *path, struct cr_bytes *der)
{
	struct cr_bytes data;
	const unsigned char *p;
	unsigned char *enc = NULL;
	X509 *x = NULL;
	BIO *bio;
	int n, code = file_read(path, &data);

	der->data = NULL;
	der->len = 0;
	if (code != EXIT_OK)
		return code;
	bio = BIO_new_mem_buf(data.data, (int)data.len);
	if (bio != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		p = data.data;
		x = d2i_X509(NULL, &p, (long)data.len);
	}
	free(data.data);
	if (x == NULL)
		return fail(EXIT_USAGE, "%s holds no certificate (PEM or DER)", path);
	n = i2d_X509(x, &enc);
	X509_free(x);
	if (n <= 0)
		return fail(EXIT_ERROR, "cannot encode the certificate of %s", path);
	der->data = malloc((size_t)n);
	if (der->data == NULL) {
		OPENSSL_free(enc);
		return fail(EXIT_ERROR, "out of memory");
	}
	memcpy(der->data, enc, (size_t)n);
	der->len = (size_t)n;
	OPENSSL_free(enc);
	return EXIT_OK;
}

int hash_file(const char *path, enum cr_hash h, uint8_t *out, size_t *len)
{
	uint8_t chunk[65536];
	struct cr_digest *d = NULL;
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc;

	if (f == NULL)
		return fail(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
	rc = cr_digest_new(h, &d);
	while (rc == CR_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = cr_digest_update(d, chunk, n);
	if (rc == CR_OK && ferror(f)) {
		fclose(f);
		cr_digest_free(d);
		return fail(EXIT_ERROR, "cannot read %s: %s", path, strerror(errno));
	}
	fclose(f);
	if (rc == CR_OK)
		rc = cr_digest_final(d, out, len);
	cr_digest_free(d);
	return rc == CR_OK ? EXIT_OK : fail(EXIT_ERROR, "cannot hash %s: %s", path, cr_rc_name(rc));
}

char *path_with_suffix(const char *path, const char *suffix)
{
	size_t len = strlen(path) + strlen(suffix) + 1;
	char *s = malloc(len);

	if (s != NULL)
		snprintf(s, len, "%s%s", path, suffix);
	return s;
}
