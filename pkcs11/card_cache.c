/*
 * The on-disk cache of what was read from a card ([module] cache_dir): its
 * firmware version and traits, and its key inventory with
 * certificates, public keys and attestations once read, one file per card
 * serial, so that a warm start costs the APDUs of identifying the card only.
 *
 * Nothing secret is ever in it (no PIN, no PUK, no management key). A file
 * that is truncated, corrupt (its SHA-256 does not match), of another
 * format, of another card, or that others could have written is ignored
 * and replaced by the next listing read from the card.
 *
 * How stale a listing from the cache can be, and why that is safe: it
 * shows what the card held when the file was written; another program
 * (yubico-piv-tool) may have replaced a key and certificate since. Before
 * the first private-key operation with a key after each login, the card is
 * asked once whether it still holds that key (card_confirm_key), and a
 * changed key makes the card a new token whose objects are read again; a
 * signature or decryption from the card is also checked against the listed
 * public key. A key the listing knew from its certificate only has its
 * policies asked of the card when they are first wanted, which is such a
 * check too. So a stale listing can only show an old certificate, never
 * have an old key's name put on a new key's signature.
 */
#include "pkcs11/card.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apdu/tlv.h"
#include "crypto/digest.h"
#include "pkcs11/files.h"
#include "pkcs11/log.h"

static const char magic[] = "signet card cache 1\n";
#define MAGIC_LEN (sizeof(magic) - 1)
#define HASH_LEN 32
#define CACHE_MAX (256 * 1024)

enum {
	TAG_SERIAL = 0x41,
	TAG_HOLDER = 0x42,
	TAG_VERSION = 0x43,
	TAG_TRAITS = 0x44,      /* yubikey, metadata */
	TAG_ATTEST_CA = 0x45,   /* the attestation intermediate, once read (empty: the card has none) */
	TAG_KEY = 0x61,
	TAG_SLOT = 0x81,
	TAG_HAS_KEY = 0x82,
	TAG_ALG = 0x83,
	TAG_POLICIES = 0x84,    /* PIN, touch, origin; each + 1 so that 0 says "unknown" */
	TAG_CERT = 0x85,
	TAG_SPKI = 0x86,
	TAG_ATTEST = 0x87,      /* the key's attestation, once read (empty: the card gives none) */
	TAG_HASH = 0xFE,
};

/* TAG_HAS_KEY: 0 no key, 1 a key the card described, this for a key known from its certificate only. */
enum { KEY_NOT_DESCRIBED = 2 };

static bool cache_path(const struct token *t, char *out, size_t size)
{
	if (t->conf->cache_dir[0] == '\0' || t->serial_text[0] == '\0')
		return false;
	return snprintf(out, size, "%s/card-%s.cache", t->conf->cache_dir, t->serial_text) < (int)size;
}

/* ---- reading ---- */

/* The whole file, if it is ours: a regular file of this user that nobody else can write. */
static bool read_file(const char *path, uint8_t **data, size_t *len)
{
	if (files_read_private(path, CACHE_MAX, data, len))
		return true;
	if (errno != ENOENT)
		log_msg(LL_INFO, "card cache %s ignored: not a private file of this user", path);
	return false;
}

static bool hash_of(const uint8_t *p, size_t n, uint8_t out[HASH_LEN])
{
	size_t len = HASH_LEN;

	return cr_hash_once(CR_HASH_SHA256, p, n, out, &len) == 0 && len == HASH_LEN;
}

/* The body between the magic and the hash, once both check out. */
static bool check_frame(const uint8_t *p, size_t n, const uint8_t **body, size_t *body_len)
{
	uint8_t want[HASH_LEN];
	size_t tail = 2 + HASH_LEN;

	if (n < MAGIC_LEN + tail || memcmp(p, magic, MAGIC_LEN) != 0)
		return false;
	if (p[n - tail] != TAG_HASH || p[n - tail + 1] != HASH_LEN || !hash_of(p, n - tail, want) ||
	    memcmp(want, p + n - HASH_LEN, HASH_LEN) != 0)
		return false;
	*body = p + MAGIC_LEN;
	*body_len = n - MAGIC_LEN - tail;
	return true;
}

static bool copy_text(char *dst, size_t size, const uint8_t *v, size_t len)
{
	if (len >= size || memchr(v, '\0', len) != NULL)
		return false;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return true;
}

static bool parse_key(struct token *t, const uint8_t *p, size_t n)
{
	struct tlv_rd r;
	const uint8_t *v;
	uint32_t tag;
	size_t len;
	struct card_key *k = NULL;
	int more;

	if (tlv_find_strict(p, n, TAG_SLOT, &v, &len) != 1 || len != 1 || (k = card_key_of_slot(t, v[0])) == NULL ||
	    k->cert_read)
		return false;
	k->cert_read = true;
	tlv_rd_init(&r, p, n);
	while ((more = tlv_next(&r, &tag, &v, &len)) == 1) {
		bool ok = true;

		switch (tag) {
		case TAG_SLOT: break;
		case TAG_HAS_KEY:
			ok = len == 1 && v[0] <= KEY_NOT_DESCRIBED;
			if (ok) {
				k->has_key = v[0] != 0;
				k->described = v[0] != KEY_NOT_DESCRIBED;
			}
			break;
		case TAG_ALG:
			ok = len == 1;
			if (ok)
				k->alg = v[0];
			break;
		case TAG_POLICIES:
			ok = len == 3;
			if (ok) {
				k->pin_policy = v[0] - 1;
				k->touch_policy = v[1] - 1;
				k->origin = v[2] - 1;
			}
			break;
		case TAG_CERT: ok = card_bytes_set(&k->cert, v, len) == CKR_OK; break;
		case TAG_SPKI: ok = card_bytes_set(&k->spki, v, len) == CKR_OK; break;
		case TAG_ATTEST:
			ok = card_bytes_set(&k->attest, v, len) == CKR_OK;
			k->attest_read = ok;
			break;
		default: ok = false; break;
		}
		if (!ok)
			return false;
	}
	return more == 0 && (!k->has_key || (k->alg != 0 && k->spki.len > 0));
}

static bool parse_body(struct token *t, const uint8_t *p, size_t n)
{
	char serial[sizeof(t->serial_text)];
	struct tlv_rd r;
	const uint8_t *v;
	uint32_t tag;
	size_t len;
	int more;

	if (tlv_find_strict(p, n, TAG_SERIAL, &v, &len) != 1 || !copy_text(serial, sizeof(serial), v, len) ||
	    strcmp(serial, t->serial_text) != 0)
		return false; /* another card's file under this name */
	tlv_rd_init(&r, p, n);
	while ((more = tlv_next(&r, &tag, &v, &len)) == 1) {
		bool ok = true;

		switch (tag) {
		case TAG_SERIAL: break;
		case TAG_HOLDER: break; /* written by earlier releases, which named the token after it */
		case TAG_VERSION:
			ok = len == 3;
			if (ok) {
				memcpy(t->version, v, 3);
				t->have_version = true;
			}
			break;
		case TAG_TRAITS:
			ok = len == 2 && v[0] <= 1 && v[1] <= 1;
			if (ok)
				t->metadata = v[1];
			break;
		case TAG_KEY: ok = parse_key(t, v, len); break;
		case TAG_ATTEST_CA:
			ok = card_bytes_set(&t->attest_ca, v, len) == CKR_OK;
			t->attest_ca_read = ok;
			break;
		default: ok = false; break;
		}
		if (!ok)
			return false;
	}
	return more == 0;
}

bool card_cache_load(struct token *t)
{
	char path[CONFIG_PATH_MAX + 64];
	const uint8_t *body;
	size_t len, body_len;
	uint8_t *data;
	bool ok;

	if (!cache_path(t, path, sizeof(path)) || !read_file(path, &data, &len))
		return false;
	ok = check_frame(data, len, &body, &body_len) && parse_body(t, body, body_len);
	free(data);
	if (!ok) {
		log_msg(LL_INFO, "card cache %s ignored: damaged or not this card's; it will be written again", path);
		card_free_objects(t);
		t->have_version = false;
		t->metadata = -1;
		return false;
	}
	t->inventory = true;
	t->from_cache = true;
	return true;
}

/* ---- writing ---- */

static void put_key(struct buf *b, const struct card_key *k)
{
	uint8_t pol[3] = { (uint8_t)(k->pin_policy + 1), (uint8_t)(k->touch_policy + 1), (uint8_t)(k->origin + 1) };
	uint8_t has = !k->has_key ? 0 : k->described ? 1 : KEY_NOT_DESCRIBED;
	size_t mark;

	if (!k->has_key && k->cert.len == 0)
		return;
	mark = tlv_open(b, TAG_KEY);
	tlv_put(b, TAG_SLOT, &k->slot, 1);
	tlv_put(b, TAG_HAS_KEY, &has, 1);
	tlv_put(b, TAG_ALG, &k->alg, 1);
	tlv_put(b, TAG_POLICIES, pol, sizeof(pol));
	if (k->cert.len > 0)
		tlv_put(b, TAG_CERT, k->cert.data, k->cert.len);
	if (k->spki.len > 0)
		tlv_put(b, TAG_SPKI, k->spki.data, k->spki.len);
	if (k->attest_read)
		tlv_put(b, TAG_ATTEST, k->attest.data, k->attest.len);
	tlv_close(b, mark);
}

static void encode(const struct token *t, struct buf *b)
{
	uint8_t traits[2] = { t->yubikey, (uint8_t)(t->metadata == 1) };
	uint8_t hash[HASH_LEN];

	buf_put(b, magic, MAGIC_LEN);
	tlv_put(b, TAG_SERIAL, t->serial_text, strlen(t->serial_text));
	if (t->have_version)
		tlv_put(b, TAG_VERSION, t->version, 3);
	tlv_put(b, TAG_TRAITS, traits, sizeof(traits));
	if (t->attest_ca_read)
		tlv_put(b, TAG_ATTEST_CA, t->attest_ca.data, t->attest_ca.len);
	for (int i = 0; i < CARD_KEY_SLOTS; i++)
		put_key(b, &t->keys[i]);
	if (!buf_ok(b) || !hash_of(b->d, b->len, hash)) {
		buf_fail(b);
		return;
	}
	tlv_put(b, TAG_HASH, hash, sizeof(hash));
}

void card_cache_store(struct token *t)
{
	char path[CONFIG_PATH_MAX + 64];
	struct buf b;
	int err;

	if (!cache_path(t, path, sizeof(path)))
		return;
	if ((err = files_make_dir(t->conf->cache_dir)) != 0) {
		log_msg(LL_INFO, "card cache directory %s cannot be made: %s", t->conf->cache_dir, strerror(err));
		return;
	}
	buf_init(&b);
	encode(t, &b);
	if (!buf_ok(&b))
		log_msg(LL_INFO, "card cache %s not written: out of memory", path);
	else if (!files_replace(path, b.d, b.len))
		log_msg(LL_INFO, "card cache %s not written: %s", path, strerror(errno));
	buf_free(&b);
}

void card_cache_drop(struct token *t)
{
	char path[CONFIG_PATH_MAX + 64];

	if (cache_path(t, path, sizeof(path)) && unlink(path) != 0 && errno != ENOENT)
		log_msg(LL_INFO, "card cache %s cannot be removed: %s", path, strerror(errno));
}
