/*
 * The PIV card token: what the card*.c files share. One struct token per
 * PC/SC reader (card_driver.c), its connection and what was learnt from
 * the card (card_io.c), the objects built from bytes the card holds
 * (card_objects.c), their on-disk cache (card_cache.c), what the PIN policy
 * (pin_policy.c) needs of the card (card_pin.c), the token_ops (card_ops.c),
 * the card's reset (card_reset.c), its retry counters (card_retries.c) and
 * its attestations (card_attest.c).
 *
 * Locking: each token has one lock, held for a whole token call, card I/O
 * included. The core is told about events (slot_set_present,
 * slot_token_changed, slot_login_lost) only after that lock is released:
 * card_unlock() delivers what a call left pending, since the core may call
 * back into the token (closing sessions) while it handles them.
 */
#ifndef SIGNET_CARD_H
#define SIGNET_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "apdu/apdu.h"
#include "apdu/pcsc.h"
#include "apdu/piv.h"
#include "crypto/x509.h"
#include "pkcs11/attrs.h"
#include "pkcs11/card_pin.h"
#include "pkcs11/config.h"
#include "pkcs11/slot.h"
#include "pkcs11/token.h"

#include "pkcs11/card_driver.h"

extern const struct token_ops card_token_ops;

/* 9A, 9C, 9D, 9E and the retired key slots 82..95. */
#define CARD_KEY_SLOTS 24
#define CARD_LABEL_MAX 32
/* A GET METADATA answer for a key slot: its public key (RSA-4096 at most) and the policies. */
#define CARD_METADATA_MAX 1024

/* What the card holds in one key slot, as read from it (or from the cache). */
struct card_key {
	uint8_t slot;
	bool has_key;            /* a private key is in the slot */
	uint8_t alg;             /* its PIV algorithm, 0 if unknown */
	int pin_policy;          /* PIV_PIN_POLICY_*, -1 when the card did not say */
	int touch_policy;
	int origin;              /* 1 generated on the card, 2 imported, -1 unknown */
	/*
	 * The card was asked about the key (GET METADATA), or has nothing more
	 * to say of it. False for a key listed from its slot's certificate on a
	 * card that answers GET METADATA: its policies and origin, and whether
	 * the slot holds that key at all, are asked once something needs them
	 * (card_describe_key).
	 */
	bool described;
	bool cert_read;          /* the certificate object was read (cert stays empty when there is none) */
	struct cr_bytes cert;    /* DER certificate, empty if none */
	struct cr_bytes spki;    /* the key's SubjectPublicKeyInfo (metadata, else the certificate's) */
	bool confirmed;          /* seen on the card since the last login (see card_confirm_key) */
	bool attest_read;        /* the card was asked for the key's attestation (card_attest.c) */
	struct cr_bytes attest;  /* DER attestation certificate, empty if none */
};

struct card_obj {
	token_ref ref;
	struct attr_list attrs;
	bool priv;               /* CKA_PRIVATE: listed only once the user is logged in */
	unsigned long owner;     /* the session that made it (derived keys), 0 for card objects */
	uint8_t slot;            /* the PIV key slot of a card object */
};

/* What the core must hear once the token's lock is released. */
enum card_event {
	CARD_EVENT_NONE = 0,
	CARD_EVENT_LOGIN_LOST = 1,   /* slot_login_lost */
	CARD_EVENT_CHANGED = 2,      /* slot_token_changed: a new token epoch */
	CARD_EVENT_EMPTY = 4,        /* slot_set_present(SLOT_EMPTY) */
	CARD_EVENT_PRESENT = 8,      /* slot_set_present(SLOT_TOKEN_PRESENT) */
	CARD_EVENT_GONE = 16,        /* slot_set_present(SLOT_GONE) */
};

struct token {
	char *reader;
	CK_SLOT_ID slot;
	const struct config *conf;
	void *lock;
	unsigned pending;            /* enum card_event bits for card_unlock() */

	/* the reader, watched without a word to the card */
	struct pcsc_ctx *watch;
	bool present;
	bool gone;                   /* the reader went away */
	bool watched;                /* looked at once since its slot was added */
	unsigned events;             /* the reader's card event counter when the card came */
	unsigned long generation;    /* one per card put into the reader */

	/* the connection, made on first need */
	struct pcsc_card *pc;
	struct apdu_chan chan;
	struct piv_card piv;
	uint8_t atr[33];
	size_t atr_len;

	/* who the card is */
	bool identified;
	bool not_piv;                /* the card has no PIV application */
	bool yubikey;                /* answers GET SERIAL */
	uint32_t serial;
	char serial_text[17];
	uint8_t version[3];          /* firmware (GET VERSION); 0.0.0 for a card without it */
	bool have_version;
	int metadata;                /* answers GET METADATA: 1 yes, 0 no, -1 not known yet */
	struct timespec status_read; /* when the PIN counter was last read from the card */

	/* the objects */
	bool inventory;              /* keys[] describe the card */
	bool from_cache;             /* ... as the cache had it: keys are confirmed before use */
	bool built;                  /* objs[] made from keys[] */
	struct card_key keys[CARD_KEY_SLOTS];
	/*
	 * Bumped when signet replaces or deletes a slot's key (key_gen) or
	 * certificate (cert_gen): they are part of the objects' refs, so that a
	 * handle to the old object never names the new one.
	 */
	uint16_t key_gen[CARD_KEY_SLOTS], cert_gen[CARD_KEY_SLOTS];
	bool attest_ca_read;         /* the attestation intermediate was read (card_attest.c) */
	struct cr_bytes attest_ca;   /* its DER certificate, empty if none */
	struct card_obj *objs;
	size_t nobjs, capobjs;
	token_ref next_ref;          /* for derived keys */

	/* login */
	CK_USER_TYPE login;          /* what the card holds for us: NO_CARD_LOGIN, CKU_USER, CKU_SO */
	uint8_t puk[PIV_PIN_MAX];    /* the SO's PUK, for C_InitPIN, while the SO is logged in */
	size_t puk_len;
	struct card_pin pin;
	/* a PIN-always key: VERIFY sent in a transaction held until the session's operation runs */
	unsigned long ctx_session;   /* 0: none */
	unsigned long next_session;
};

#define NO_CARD_LOGIN ((CK_USER_TYPE)-1)

/* ---- card_ops.c: what the other card*.c files need of a session ---- */

/* Takes the token's lock for a call on a session (ss may be NULL); card_leave() releases it and returns rv. */
CK_RV card_enter(struct token *t, const void *ss);
CK_RV card_leave(struct token *t, CK_RV rv);
unsigned long card_session_id(const void *ss);
bool card_session_rw(const void *ss);

/* ---- card_admin.c: the management key ---- */

/*
 * Opens the PC/SC transaction a card write runs in, and authenticates with
 * the management key inside it: [card] management_key, else the key in the
 * card's PIN-protected store (read with the user's PIN verified), else the
 * card's default. CKR_OK: the caller writes, then card_admin_end(). Any
 * failure has ended the transaction, and nothing was written.
 */
CK_RV card_admin_begin(struct token *t);
void card_admin_end(struct token *t);

/* ---- card_keys.c: keys and certificates put on the card, or taken off ---- */

CK_RV card_generate_key_pair(struct token *t, void *ss, const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub_tmpl,
			     CK_ULONG pub_count, const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count, token_ref *pub,
			     token_ref *priv);
CK_RV card_create_object(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *obj);
CK_RV card_destroy_object(struct token *t, void *ss, token_ref obj);

/* ---- card_driver.c ---- */

CK_RV card_lock(struct token *t);
/* Releases the lock, then tells the core what the call left pending. */
void card_unlock(struct token *t);
/* Reads the reader's state (no APDU) and notes an insertion, removal or swap. Caller holds the lock. */
void card_watch_locked(struct token *t);

/* ---- card_io.c ---- */

/* Connects to the card in the reader (no APDU: the ATR comes with the connection). */
CK_RV card_connect(struct token *t);
/* The one mapping of card results to PKCS#11 codes. */
CK_RV card_rv(int piv_rc);
/*
 * A card is in the reader, connected, with PIV, and known to be the card
 * the token describes: CKR_OK, else CKR_DEVICE_REMOVED / CKR_TOKEN_NOT_PRESENT
 * / CKR_TOKEN_NOT_RECOGNIZED / CKR_DEVICE_ERROR. Identifies a new card
 * (card_identify) the first time.
 */
CK_RV card_ready(struct token *t);
/*
 * After a card command answered PIV_E_CARD_RESET: another program reset
 * the card, or it was pulled and put back. Decides which (the reader's
 * event counter), checks that it is still the same card, gives up the
 * login (the card forgot it) and returns CKR_OK when the command may be
 * sent again (it carries no PIN and needs no login), else the code for
 * the caller.
 */
CK_RV card_after_reset(struct token *t, bool needs_login);
/*
 * After a command that needs the login answered rc: when the card was reset
 * (card_after_reset) or left (the reader is looked at), true with the
 * result for the caller in *rv; false for any other answer.
 */
bool card_left_or_reset(struct token *t, int rc, CK_RV *rv);
/* Ends a PIN-always transaction held for another operation. */
void card_drop_context_auth(struct token *t);
/* The card no longer holds our login: state, PUK and key confirmations go. */
void card_forget_login(struct token *t);
/* card_forget_login, and the core hears of it (slot_login_lost) once the lock is released. */
void card_login_lost(struct token *t);
/* Forgets everything known about the card in the reader (it left). */
void card_forget(struct token *t, bool quietly);
/* Reads the PIN counter again when the last reading is older than a second. */
CK_RV card_refresh_status(struct token *t, bool force);
/* The PUK counter, for an SO operation (GET METADATA where the card has it). */
CK_RV card_read_puk_status(struct token *t);
void card_wipe_puk(struct token *t);
/* Another program replaced a key the listing showed: the objects go, the card is a new token. */
void card_token_replaced(struct token *t);
bool card_is_yubikey_atr(const struct token *t);
/* RESET, SET PIN RETRIES and the other YubiKey commands (a bare PIV card has none); no APDU. */
bool card_has_yubikey_commands(const struct token *t);
/* The firmware is at least major.minor (as read when the card was identified; false when not known). */
bool card_version_at_least(const struct token *t, uint8_t major, uint8_t minor);
/* A YubiKey 5.7 or later deletes keys (MOVE KEY to FF); no APDU. */
bool card_deletes_keys(const struct token *t);

/* ---- card_objects.c ---- */

/* The inventory of key slots and the objects built from it (from the cache, else the card). */
CK_RV card_load_objects(struct token *t);
void card_free_objects(struct token *t);
void card_key_clear(struct card_key *k);
/*
 * keys[] -> objs[], session objects (derived keys) kept; objects the card
 * cannot describe are left out with a log line.
 */
CK_RV card_build_objects(struct token *t);
/* Frees the card's own objects, keeping the session objects. */
void card_drop_card_objects(struct token *t);
/*
 * Asks the card about a key listed from its certificate (one GET METADATA):
 * its policies and origin go into its objects. When the slot turns out to
 * hold another key, or none, the slot's objects are made again from what the
 * card says, under new handles, and the caller gets CKR_KEY_HANDLE_INVALID.
 * CKR_OK at once for a key already described.
 */
CK_RV card_describe_key(struct token *t, struct card_key *k);
/* Whether two SubjectPublicKeyInfos hold the same key, however each is encoded. */
bool card_same_public_key(const struct cr_bytes *a, const struct cr_bytes *b);
/* Whether a template names an attribute only the card's description of a key gives. */
bool card_needs_description(const CK_ATTRIBUTE *tmpl, CK_ULONG count);
/* card_describe_key for every key not yet described; another key found in a slot is not an error here. */
CK_RV card_describe_keys(struct token *t);
struct card_key *card_key_of_slot(struct token *t, uint8_t slot);
struct card_obj *card_obj_find(struct token *t, token_ref ref);
/* Adds an object made of l (which it takes, also on failure); owner: the session of a session object, else 0. */
CK_RV card_obj_add(struct token *t, token_ref ref, uint8_t slot, unsigned long owner, struct attr_list *l);
/* A certificate object (the slot's own, or an attestation) made from DER; one that does not parse is left out. */
struct card_cert_object {
	token_ref ref;
	uint8_t slot;
	uint8_t id;                 /* CKA_ID */
	const char *label;
	CK_ULONG category;          /* CKA_CERTIFICATE_CATEGORY */
	bool destroyable;
	const struct cr_bytes *der;
};
CK_RV card_add_cert_object(struct token *t, const struct card_cert_object *co);
/* Heap copies of bytes read from the card or the cache. */
CK_RV card_bytes_set(struct cr_bytes *b, const uint8_t *p, size_t n);
void card_bytes_free(struct cr_bytes *b);
bool card_obj_visible(const struct token *t, const struct card_obj *o, unsigned long session);
/* Whether the key in a slot is still the one listed; a key replaced since the listing makes a new token. */
CK_RV card_confirm_key(struct token *t, struct card_key *k);
/*
 * The key history object's counts of retired keys with their certificate
 * on the card and off it: 0 and 0 when the card has none; PIV_E_MALFORMED
 * (counts 0) for one that cannot be read.
 */
int card_key_history(struct token *t, int *on_card, int *off_card);
/* Reads the certificate of a slot from the card into k (left empty when there is none or it is unusable). */
int card_read_cert(struct token *t, struct card_key *k);
/* signet changed a slot's key and/or certificate: handles to the old objects must not reach the new ones. */
void card_slot_rewritten(struct token *t, uint8_t slot, bool key, bool cert);
/* CKA_ID of a slot, as OpenSC and ykcs11 use them for 9A..9E and OpenSC for the retired ones. */
uint8_t card_slot_id(uint8_t slot);
int card_key_index(uint8_t slot);
uint8_t card_key_slot_at(int index);

/* ---- card_attest.c ---- */

/* Whether a find template asks for attestation certificates (by their CKA_CERTIFICATE_CATEGORY). */
bool card_attest_wanted(const CK_ATTRIBUTE *tmpl, CK_ULONG count);
/* Whether an object is one of them: listed only for such a find. */
bool card_attest_is(const struct card_obj *o);
/* Reads the attestations not read yet (ATTEST per generated key, the intermediate) and adds their objects. */
CK_RV card_attest_load(struct token *t);
/* The objects of the attestations already read (no APDU); card_build_objects makes them again with the rest. */
CK_RV card_attest_add_objects(struct token *t);

/* ---- card_reset.c ---- */

/* C_InitToken: the YubiKey reset, once the card's PIN and PUK are both blocked. */
CK_RV card_init_token(struct token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len, const CK_UTF8CHAR *label);

/* ---- card_retries.c ---- */

/* C_SignetSetRetries: the card's PIN and PUK tries (SET PIN RETRIES), which makes both the factory ones. */
CK_RV card_set_retries(struct token *t, void *ss, CK_ULONG user_tries, CK_ULONG so_tries);

/* ---- card_cache.c ---- */

/* Fills the identity and inventory of t from its cache file: true when the file is valid for this card. */
bool card_cache_load(struct token *t);
/* Writes what is known of the card; failures are logged and otherwise ignored. */
void card_cache_store(struct token *t);
void card_cache_drop(struct token *t);

#endif
