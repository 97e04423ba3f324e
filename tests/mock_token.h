/*
 * An in-memory token for the core's unit tests: a struct token_ops that
 * behaves like a PIV card, so that the core is tested without SoftHSM or a
 * card. Like a card it does only raw private-key operations (CKM_RSA_X_509
 * sign and decrypt, CKM_ECDSA over a hash, done with OpenSSL on its own
 * keys), keeps its PINs and their retry counters itself, and builds its
 * objects on pkcs11/attrs.c. Its PIN operations go through
 * pkcs11/pin_policy.c as a card token's do: the policy reads the card's
 * counters without spending a try, lets a PIN through to the "device" or
 * refuses it, and makes the token's PIN flags; its own counters live in the
 * state_dir of the configuration C_Initialize read. Knobs let a test offer
 * more mechanisms, fail the next call of a function, count the calls, make
 * the device forget its login, put a different token in the slot, or take
 * the token away.
 *
 * Life cycle: after C_Initialize, mock_token_new() makes a token and
 * mock_token_add_slot() gives it a slot (core slot_add); after C_Finalize
 * the test frees it with mock_token_free(). The core never frees a token
 * (a driver's stop() does), so the destroy op only counts.
 *
 * Thread-safe: every entry takes the token's own lock, and holds it across
 * its calls into the PIN policy, as a card driver holds its card for a
 * whole PIN operation.
 */
#ifndef SIGNET_TESTS_MOCK_TOKEN_H
#define SIGNET_TESTS_MOCK_TOKEN_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/token.h"

/* What a fresh mock token holds. */
#define MOCK_USER_PIN "123456"
#define MOCK_SO_PIN "12345678"
#define MOCK_USER_TRIES 3
#define MOCK_SO_TRIES 5
#define MOCK_MIN_PIN 4
#define MOCK_MAX_PIN 8
/* CKA_ID of the RSA key, its public key and certificate; the EC ones have MOCK_EC_ID. */
#define MOCK_RSA_ID 0x01
#define MOCK_EC_ID 0x02
/* CKA_APPLICATION and CKA_VALUE of the token's data object. */
#define MOCK_DATA_APPLICATION "mock"
#define MOCK_DATA_VALUE "hello, token"

/* The token_ops functions, for call counts and injected failures. */
enum mock_fn {
	MOCK_SLOT_INFO,
	MOCK_TOKEN_INFO,
	MOCK_MECHANISM_LIST,
	MOCK_MECHANISM_INFO,
	MOCK_SESSION_OPEN,
	MOCK_SESSION_CLOSE,
	MOCK_LOGIN,
	MOCK_LOGOUT,
	MOCK_INIT_PIN,
	MOCK_SET_PIN,
	MOCK_FIND,
	MOCK_GET_ATTRIBUTES,
	MOCK_CREATE_OBJECT,
	MOCK_DESTROY_OBJECT,
	MOCK_DERIVE_KEY,
	MOCK_OP_INIT,
	MOCK_OP_ONESHOT,
	MOCK_OP_UPDATE,
	MOCK_OP_FINAL,
	MOCK_OP_ABORT,
	MOCK_DESTROY,
	MOCK_FN_COUNT
};

/*
 * Which token is in the slot. The objects are named after label: "<label>
 * RSA" (private key, public key, certificate, CKA_ID MOCK_RSA_ID), "<label>
 * EC" (the same for the P-256 key, MOCK_EC_ID) and "<label> data". The
 * token_refs of these objects are the same for every token, as a card's key
 * slots are, so that a handle kept from another token would alias.
 */
struct mock_desc {
	const char *label;   /* at most 32 bytes */
	const char *serial;  /* at most 16 bytes */
	EVP_PKEY *rsa;       /* RSA-2048; the token takes its own reference */
	EVP_PKEY *ec;        /* P-256 */
	/*
	 * The card's own retry limits: 0 for a PIV card's defaults
	 * (MOCK_USER_TRIES, MOCK_SO_TRIES). More than [policy] allows shows
	 * signet locking in front of a generous card; fewer, the card's
	 * counter ruling.
	 */
	unsigned user_tries;
	unsigned so_tries;
	/* The user PIN is still the card's factory default: it must be changed before the keys work. */
	bool factory_pin;
};

/*
 * NULL when out of memory, when OpenSSL cannot build the certificates or
 * when the configuration (SIGNET_CONF, as C_Initialize reads it) is bad.
 */
struct token *mock_token_new(const struct mock_desc *d);
void mock_token_free(struct token *t);
/* Registers the token in a new slot of the initialised core (slot_add) and remembers the slot. */
CK_RV mock_token_add_slot(struct token *t, CK_SLOT_ID *slot);
extern const struct token_ops mock_token_ops;

/* ---- knobs ---- */

/*
 * The next call of fn fails with rv before doing anything (and is counted).
 * session_close, op_abort and destroy cannot fail: for them the failure is
 * used up and the call goes on.
 */
void mock_fail_next(struct token *t, enum mock_fn fn, CK_RV rv);
unsigned mock_calls(struct token *t, enum mock_fn fn);

/*
 * Offers a mechanism beyond the raw ones: CKM_RSA_PKCS (PKCS#1 v1.5 sign
 * over the caller's DigestInfo, and decrypt, as SoftHSM offers it) or
 * CKM_ECDSA_SHA256 (the token hashes and signs, single- and multi-part).
 * CKR_MECHANISM_INVALID for anything else.
 */
CK_RV mock_offer(struct token *t, CK_MECHANISM_TYPE mech);

/* The device forgot its login (a card reset by another process): it is public again. */
void mock_forget_login(struct token *t);
/* A different token is now in the slot: label, serial, keys and objects of d, PINs fresh. */
CK_RV mock_swap(struct token *t, const struct mock_desc *d);
/* The token is taken out (false) or put back (true): absent, it answers CKR_DEVICE_REMOVED. */
void mock_set_present(struct token *t, bool present);

/* ---- what the device saw ---- */

/* The login the device holds: CKU_USER, CKU_SO, or MOCK_PUBLIC. */
#define MOCK_PUBLIC ((CK_USER_TYPE)-1)
CK_USER_TYPE mock_login_state(struct token *t);
/* The card's own counters: what it would still accept before it blocks the PIN itself. */
unsigned mock_user_tries_left(struct token *t);
unsigned mock_so_tries_left(struct token *t);
/*
 * PINs of who (CKU_USER, also for CKU_CONTEXT_SPECIFIC; CKU_SO for the PUK)
 * sent to the device to be judged (VERIFY, CHANGE REFERENCE DATA), blocked
 * or not: what the policy let through.
 */
unsigned mock_pins_judged(struct token *t, CK_USER_TYPE who);
/* Sessions the core opened on the token and has not closed yet. */
unsigned mock_open_sessions(struct token *t);
/*
 * The mechanism of the last op_init the token accepted, and the input of
 * the last raw operation it performed (a hash, a DigestInfo, an RSA block):
 * what a strategy asked of the token. *len: capacity in, length out.
 */
CK_MECHANISM_TYPE mock_last_mechanism(struct token *t);
void mock_last_input(struct token *t, CK_BYTE *buf, CK_ULONG *len);

#endif
