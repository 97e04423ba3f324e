/*
 * Signing with a token key: which key, which mechanism for its type and
 * the hash asked for, and the signature in the form files carry (what
 * openssl dgst writes and checks: RSA as it is, ECDSA in DER, Ed25519 raw).
 */
#ifndef SIGNET_TOOLS_SIGNING_H
#define SIGNET_TOOLS_SIGNING_H

#include <stdbool.h>
#include <stdio.h>

#include "crypto/verify.h"
#include "crypto/x509.h"
#include "crypto/x509_build.h"
#include "tools/module.h"
#include "tools/tool.h"

/* How one signature is made: the token's mechanism and how the host checks it. */
struct sign_plan {
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	enum cr_hash hash;
	enum cr_sig_scheme scheme; /* not for EdDSA */
	bool eddsa;                /* Ed25519 signs the whole message, no hash */
	size_t ec_field;           /* ECDSA: the field size, to turn r||s into DER */
	char text[48];             /* "ECDSA with SHA-256" */
};

/*
 * The plan for a key: hash_name NULL means the key's usual hash (SHA-256;
 * SHA-384 for P-384, SHA-512 for P-521). EXIT_USAGE for a bad hash name or
 * --pss on a key that is not RSA, EXIT_UNSUPPORTED for other key types.
 * The pss member is referenced by mech, so keep the plan where it is.
 */
int sign_plan_for(const struct cr_pubkey *pub, const char *hash_name, bool pss, struct sign_plan *p);

/* The signature algorithm for certificates, requests and CMS with a key (RSA SHA-256, ECDSA P-256/P-384). */
int sig_alg_for(const struct cr_pubkey *pub, bool pss, enum cr_sig_alg *alg);

/* The --hash name of a hash ("sha256"). */
const char *hash_option_name(enum cr_hash h);

/* How a key signs, in a word: "RSA", "ECDSA", "Ed25519". */
const char *key_sig_name(const struct cr_pubkey *pub);

/* A private key on the token and its public half. */
struct signing_key {
	CK_OBJECT_HANDLE priv;
	struct cr_pubkey pub;
	uint8_t id[64];
	size_t id_len;
	char id_hex[129];
	char label[129];
	bool always_auth; /* CKA_ALWAYS_AUTHENTICATE: the PIN again before each signature */
};

/* The private key the options select (the only one when they name none), with its public key. */
int signing_key_find(struct tool *t, CK_SESSION_HANDLE s, struct signing_key *k);
void signing_key_clear(struct signing_key *k);

/* The certificate stored with a key (same CKA_ID); EXIT_NOT_FOUND without one. */
int key_certificate(struct tool *t, CK_SESSION_HANDLE s, const struct signing_key *k, struct cr_bytes *der);

/*
 * The cr_sign_fn for the crypto/ builders: signs on the token; the token's
 * CK_RV is kept in rv, and code is the exit code of a failure the tool
 * reported already (a refused PIN for a key that wants it each time).
 */
struct token_signer {
	struct tool *t;
	struct token *tok;
	CK_SESSION_HANDLE s;
	const struct signing_key *key;
	CK_RV rv;
	int code;
};
int token_sign_cb(void *ctx, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
		  size_t *sig_len);

/*
 * Signs a whole file on the token as the plan says, in pieces for the
 * hash-and-sign mechanisms. *sig_len: capacity in, length out; the
 * signature is in the form files carry (ECDSA as DER).
 */
int token_sign_file(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct signing_key *k,
		    const struct sign_plan *p, const char *path, uint8_t *sig, size_t *sig_len);

#endif
