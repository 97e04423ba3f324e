/* The card's persistent memory: a line-oriented text file rewritten
 * atomically (temporary file + rename) after every change, so the card
 * survives a simulator restart the way a card survives being unplugged.
 *
 *   signet-cardsim-state 1
 *   serial <decimal>
 *   pin <hex 8 bytes> <total> <left> <is-default>
 *   puk <hex 8 bytes> <total> <left> <is-default>
 *   mgmt <alg hex> <touch> <is-default> <hex key>
 *   key <slot hex> <alg hex> <pin policy> <touch policy> <origin> <hex PKCS#8>
 *   obj <tag hex> <hex of the stored TLV>
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

#define STATE_MAGIC "signet-cardsim-state 1"

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static int hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes hex into out (capacity cap); returns the byte count or -1. */
static long get_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), i;
	int hi, lo;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		hi = hex_nibble(s[2 * i]);
		lo = hex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

static int write_key(FILE *f, unsigned slot, const struct cs_key *k)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k->pkey);
	unsigned char *der = NULL;
	int n, rc = -1;

	if (p8 == NULL)
		goto out;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	if (n <= 0)
		goto out;
	fprintf(f, "key %02x %02x %u %u %u ", slot, k->alg, k->pin_policy, k->touch_policy, k->origin);
	put_hex(f, der, (size_t)n);
	fputc('\n', f);
	rc = 0;
out:
	if (der != NULL)
		cr_free_secret(der, n > 0 ? (size_t)n : 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

static int write_state(FILE *f, const struct cs_card *c)
{
	size_t i;

	fprintf(f, "%s\nserial %u\npin ", STATE_MAGIC, (unsigned)c->serial);
	put_hex(f, c->pin, 8);
	fprintf(f, " %u %u %d\npuk ", c->pin_total, c->pin_left, c->pin_default);
	put_hex(f, c->puk, 8);
	fprintf(f, " %u %u %d\nmgmt %02x %u %d ", c->puk_total, c->puk_left, c->puk_default, c->mgmt_alg,
		c->mgmt_touch, c->mgmt_default);
	put_hex(f, c->mgmt_key, c->mgmt_len);
	fputc('\n', f);
	for (i = 0; i < 256; i++)
		if (c->keys[i].present && write_key(f, (unsigned)i, &c->keys[i]) != 0)
			return -1;
	for (i = 0; i < CS_MAX_OBJECTS; i++) {
		if (c->objs[i].data == NULL)
			continue;
		fprintf(f, "obj %x ", (unsigned)c->objs[i].tag);
		put_hex(f, c->objs[i].data, c->objs[i].len);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

int cs_state_save(const struct cs_card *c, const char *path)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		goto out;
	}
	if (write_state(f, c) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (rc != 0) {
		cs_log("cannot write state file %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static int load_key(struct cs_card *c, char *line)
{
	unsigned slot, alg, pin, touch, origin;
	char *hex = NULL;
	uint8_t *der = NULL;
	const unsigned char *dp;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	long n = -1;
	int rc = -1;

	if (sscanf(line, "key %x %x %u %u %u %ms", &slot, &alg, &pin, &touch, &origin, &hex) != 6 || slot > 255)
		goto out;
	der = malloc(strlen(hex) / 2 + 1);
	if (der == NULL)
		goto out;
	n = get_hex(hex, der, strlen(hex) / 2 + 1);
	if (n <= 0)
		goto out;
	dp = der;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &dp, n);
	if (p8 == NULL || (pkey = EVP_PKCS82PKEY(p8)) == NULL)
		goto out;
	cs_key_clear(&c->keys[slot]);
	c->keys[slot] = (struct cs_key){ true, (uint8_t)alg, (uint8_t)pin, (uint8_t)touch, (uint8_t)origin, pkey };
	rc = 0;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (der != NULL)
		cr_free_secret(der, n > 0 ? (size_t)n : 0);
	if (hex != NULL)
		cr_free_secret(hex, strlen(hex));
	return rc;
}

static int load_object(struct cs_card *c, const char *line)
{
	unsigned tag;
	char *hex = NULL;
	uint8_t *data = NULL;
	long n;
	int rc = -1;

	if (sscanf(line, "obj %x %ms", &tag, &hex) != 2)
		goto out;
	data = malloc(strlen(hex) / 2 + 1);
	if (data == NULL)
		goto out;
	n = get_hex(hex, data, strlen(hex) / 2 + 1);
	if (n <= 0 || cs_object_set(c, tag, data, (size_t)n) != 0)
		goto out;
	rc = 0;
out:
	free(hex);
	free(data);
	return rc;
}

static int load_secret(const char *hex, uint8_t *out, size_t want)
{
	return get_hex(hex, out, want) == (long)want ? 0 : -1;
}

static int load_line(struct cs_card *c, char *line)
{
	char hex[80];
	unsigned a, b, d, t;
	int rc = -1;

	if (strncmp(line, "serial ", 7) == 0) {
		rc = sscanf(line, "serial %u", &a) == 1 ? 0 : -1;
		c->serial = a;
	} else if (strncmp(line, "pin ", 4) == 0 || strncmp(line, "puk ", 4) == 0) {
		bool pin = line[1] == 'i';
		if (sscanf(line + 4, "%79s %u %u %u", hex, &a, &b, &d) == 4 && a > 0 && a < 256 && b <= a) {
			rc = load_secret(hex, pin ? c->pin : c->puk, 8);
			*(pin ? &c->pin_total : &c->puk_total) = (uint8_t)a;
			*(pin ? &c->pin_left : &c->puk_left) = (uint8_t)b;
			*(pin ? &c->pin_default : &c->puk_default) = d != 0;
		}
	} else if (strncmp(line, "mgmt ", 5) == 0) {
		if (sscanf(line, "mgmt %x %u %u %79s", &a, &t, &d, hex) == 4 && cs_mgmt_key_len((uint8_t)a) != 0) {
			c->mgmt_alg = (uint8_t)a;
			c->mgmt_touch = (uint8_t)t;
			c->mgmt_default = d != 0;
			c->mgmt_len = cs_mgmt_key_len(c->mgmt_alg);
			rc = load_secret(hex, c->mgmt_key, c->mgmt_len);
		}
	} else if (strncmp(line, "key ", 4) == 0) {
		rc = load_key(c, line);
	} else if (strncmp(line, "obj ", 4) == 0) {
		rc = load_object(c, line);
	}
	cr_wipe(hex, sizeof(hex));
	return rc;
}

int cs_state_load(struct cs_card *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -1, lineno = 0;

	if (f == NULL)
		return errno == ENOENT ? 1 : -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (lineno == 1 ? strcmp(line, STATE_MAGIC) != 0 : load_line(c, line) != 0) {
			cs_log("%s:%d: bad state line", path, lineno);
			goto out;
		}
	}
	rc = lineno > 0 ? 0 : -1;
out:
	if (line != NULL)
		cr_free_secret(line, cap);
	fclose(f);
	return rc;
}
