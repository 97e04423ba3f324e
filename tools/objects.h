/*
 * What the tool says about objects: key types and sizes, certificates in
 * words, public keys as SubjectPublicKeyInfo (to match certificates to
 * keys) and RFC 7512 URIs that name them.
 */
#ifndef SIGNET_TOOLS_OBJECTS_H
#define SIGNET_TOOLS_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/x509.h"
#include "tools/module.h"

/* A key's type and size as the tool names them. */
struct key_desc {
	const char *type; /* "rsa", "ec", "ed25519", "x25519", "unknown" */
	unsigned bits;    /* RSA modulus bits, or the curve's size */
	const char *curve; /* "P-256", ... for EC; NULL otherwise */
	char text[32];    /* "RSA 2048", "EC P-256", "Ed25519" */
};

/* From a key object's attributes (public or private). */
void key_desc_object(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, struct key_desc *d);

/* From a parsed public key. */
void key_desc_pubkey(const struct cr_pubkey *k, struct key_desc *d);

struct cert_info {
	char subject[256]; /* RFC 2253 text */
	char issuer[256];
	char not_before[11]; /* YYYY-MM-DD */
	char not_after[11];
	long days_left;    /* until notAfter; negative once expired */
	struct cr_cert cert;
	struct key_desc key;
};

/* Describes a DER certificate; EXIT_ERROR (and no message) when it does not parse. */
int cert_info_read(const uint8_t *der, size_t len, struct cert_info *ci);
void cert_info_clear(struct cert_info *ci);

/*
 * The public key of a key object (public or private) as parsed SPKI:
 * CKA_PUBLIC_KEY_INFO when the token has it, else built from the modulus
 * and exponent or the curve and point. CKR_OK with k->type CR_KEY_NONE
 * when the object does not carry its public key.
 */
CK_RV object_pubkey_rv(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, struct cr_pubkey *k);

/* Whether two parsed public keys are the same key. */
bool pubkeys_equal(const struct cr_pubkey *a, const struct cr_pubkey *b);

/* "pkcs11:token=...;serial=...;id=%01;type=private" for an object of tok. */
void object_uri(const struct token *tok, const uint8_t *id, size_t id_len, const char *type, char *out,
		size_t size);

#endif
