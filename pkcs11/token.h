/*
 * The interface between the Cryptoki core and a token implementation (the
 * PIV card and the SoftHSM fallback). The core owns handles, argument
 * checks, login bookkeeping and locking of its own tables; a token owns its
 * objects, its sessions' state and any locking its device needs. The core
 * never holds its lock while calling a token, so tokens may block.
 *
 * Objects are named by a token_ref the token chooses; it must stay stable
 * for as long as the object exists. Every function may be NULL, which the
 * core reports as CKR_FUNCTION_NOT_SUPPORTED.
 */
#ifndef SIGNET_TOKEN_H
#define SIGNET_TOKEN_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"

struct token;               /* defined by each implementation */
struct config;
typedef CK_ULONG token_ref;

/*
 * A token's PIN tries as signet knows them, for the vendor interface
 * (pkcs11/signet_vendor.h): what rules each PIN (the token's own counter
 * as last read, or signet's store and [policy]), -1 where unknown.
 */
struct token_pin_tries {
	long user_left, user_max;
	long so_left, so_max;
	bool can_reset; /* the device has a reset command that C_InitToken runs once both PINs are blocked */
	bool can_set_retries; /* set_retries works on this device */
};

enum token_op {
	TOKEN_OP_ENCRYPT,
	TOKEN_OP_DECRYPT,
	TOKEN_OP_DIGEST,
	TOKEN_OP_SIGN,
	TOKEN_OP_VERIFY,
	TOKEN_OP_SIGN_RECOVER,
	TOKEN_OP_VERIFY_RECOVER,
	TOKEN_OP_COUNT
};

struct token_ops {
	const char *kind;   /* "card", "softhsm": for log lines */

	/* Description. token_info returns CKR_TOKEN_NOT_PRESENT when the slot is empty. */
	CK_RV (*slot_info)(struct token *t, CK_SLOT_INFO *info);
	CK_RV (*token_info)(struct token *t, CK_TOKEN_INFO *info);
	/* Same calling convention as C_GetMechanismList (NULL list: count only). */
	CK_RV (*mechanism_list)(struct token *t, CK_MECHANISM_TYPE *list, CK_ULONG *count);
	CK_RV (*mechanism_info)(struct token *t, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

	/* Administration; label is 32 blank-padded bytes. */
	CK_RV (*init_token)(struct token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_pin_len,
			    const CK_UTF8CHAR *label);
	/* The PIN tries as signet knows them, without spending one (and without device I/O where it can). */
	CK_RV (*pin_tries)(struct token *t, struct token_pin_tries *out);
	/*
	 * Sets how many tries the user PIN and the SO PIN allow on the device
	 * (a card's PIN and PUK retry counters), in a read-write session; the
	 * token decides which login it needs.
	 */
	CK_RV (*set_retries)(struct token *t, void *ss, CK_ULONG user_tries, CK_ULONG so_tries);

	/*
	 * Sessions. *state is the token's per-session data, handed back on every
	 * call. session_close always frees it; with quietly set it must not talk
	 * to the device or library (exit handlers, a forked child's inherited
	 * sessions).
	 */
	CK_RV (*session_open)(struct token *t, CK_FLAGS flags, void **state);
	void (*session_close)(struct token *t, void *state, bool quietly);

	/* Login is token-wide, as in PKCS#11; any session may carry it. */
	CK_RV (*login)(struct token *t, void *ss, CK_USER_TYPE who, const CK_UTF8CHAR *pin,
		       CK_ULONG pin_len);
	CK_RV (*logout)(struct token *t, void *ss);
	CK_RV (*init_pin)(struct token *t, void *ss, const CK_UTF8CHAR *pin, CK_ULONG pin_len);
	CK_RV (*set_pin)(struct token *t, void *ss, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			 const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

	/* Objects. find returns a malloc'd array the core frees. */
	CK_RV (*find)(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
		      token_ref **refs, CK_ULONG *found);
	/* Same semantics as C_GetAttributeValue, per attribute. */
	CK_RV (*get_attributes)(struct token *t, void *ss, token_ref obj, CK_ATTRIBUTE *tmpl,
				CK_ULONG count);
	CK_RV (*set_attributes)(struct token *t, void *ss, token_ref obj, const CK_ATTRIBUTE *tmpl,
				CK_ULONG count);
	CK_RV (*object_size)(struct token *t, void *ss, token_ref obj, CK_ULONG *size);
	CK_RV (*create_object)(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
			       token_ref *obj);
	CK_RV (*copy_object)(struct token *t, void *ss, token_ref obj, const CK_ATTRIBUTE *tmpl,
			     CK_ULONG count, token_ref *copy);
	CK_RV (*destroy_object)(struct token *t, void *ss, token_ref obj);

	/* Keys. */
	CK_RV (*generate_key)(struct token *t, void *ss, const CK_MECHANISM *mech,
			      const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *key);
	CK_RV (*generate_key_pair)(struct token *t, void *ss, const CK_MECHANISM *mech,
				   const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
				   const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count,
				   token_ref *pub, token_ref *priv);
	CK_RV (*wrap_key)(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref wrapping,
			  token_ref key, CK_BYTE *out, CK_ULONG *out_len);
	CK_RV (*unwrap_key)(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref unwrapping,
			    const CK_BYTE *wrapped, CK_ULONG wrapped_len, const CK_ATTRIBUTE *tmpl,
			    CK_ULONG count, token_ref *key);
	CK_RV (*derive_key)(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref base,
			    const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *key);

	/*
	 * Cryptographic operations, one active per kind per session, with the
	 * PKCS#11 length rules: out == NULL asks for the length and keeps the
	 * operation; CKR_BUFFER_TOO_SMALL keeps it; any other result ends it.
	 * For TOKEN_OP_VERIFY, `out`/`*out_len` carry the signature to check
	 * (input) in oneshot and final. key is 0 for digests.
	 */
	CK_RV (*op_init)(struct token *t, void *ss, enum token_op op, const CK_MECHANISM *mech,
			 token_ref key);
	CK_RV (*op_oneshot)(struct token *t, void *ss, enum token_op op, const CK_BYTE *in,
			    CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
	CK_RV (*op_update)(struct token *t, void *ss, enum token_op op, const CK_BYTE *in,
			   CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
	CK_RV (*op_final)(struct token *t, void *ss, enum token_op op, CK_BYTE *out,
			  CK_ULONG *out_len);
	CK_RV (*digest_key)(struct token *t, void *ss, token_ref key);
	/*
	 * Ends an operation of this kind that the core has ended and the token
	 * may still hold (the core refused the arguments before asking the
	 * token, or the token kept it after an error). Harmless when none is
	 * active. NULL: the token never keeps an operation the core ended.
	 */
	void (*op_abort)(struct token *t, void *ss, enum token_op op);

	CK_RV (*seed_random)(struct token *t, void *ss, const CK_BYTE *seed, CK_ULONG len);
	CK_RV (*generate_random)(struct token *t, void *ss, CK_BYTE *out, CK_ULONG len);

	/* Frees the token. process_exiting: the host is in its exit handlers. */
	void (*destroy)(struct token *t, bool process_exiting);
};

/*
 * A driver finds tokens. start() adds its slots with slot_add() (core,
 * pkcs11/slot.h); refresh() notices new or vanished devices when the
 * application asks for slots; stop() releases everything.
 */
struct token_driver {
	const char *name;
	CK_RV (*start)(const struct config *conf);
	void (*refresh)(void);
	void (*stop)(bool process_exiting);
	/*
	 * Waits up to timeout_ms for a device to come or go (C_WaitForSlotEvent).
	 * CKR_OK: something may have changed, refresh and look; CKR_NO_EVENT:
	 * nothing in that time; CKR_CRYPTOKI_NOT_INITIALIZED: the driver is
	 * stopping (C_Finalize from another thread). stop() waits until every
	 * waiter has left. NULL or CKR_FUNCTION_NOT_SUPPORTED: devices never
	 * come or go.
	 */
	CK_RV (*wait)(unsigned timeout_ms);
};

#endif
