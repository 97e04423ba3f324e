/* PIV card commands (NIST SP 800-73-4) and the YubiKey PIV extensions.
 *
 * Every function sends its APDUs through the framing layer, checks and
 * parses what the card returns, and answers with enum piv_rc. Status words
 * are mapped in one place, piv_sw_to_rc(). PINs, PUKs and management keys
 * travel only in APDUs flagged sensitive, and every copy made here is
 * wiped. */
#ifndef SIGNET_APDU_PIV_H
#define SIGNET_APDU_PIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "crypto/block.h"

enum piv_rc {
	PIV_OK = 0,
	PIV_E_TRANSPORT = -1,     /* reader or framing failure */
	PIV_E_CARD_RESET = -2,    /* card state lost: select again, forget logins */
	PIV_E_CARD_REMOVED = -3,
	PIV_E_NO_SERVICE = -4,
	PIV_E_NO_READER = -5,
	PIV_E_PIN_INCORRECT = -6, /* 63Cx: tries left reported separately */
	PIV_E_PIN_BLOCKED = -7,   /* 6983, or 63C0 */
	PIV_E_SECURITY = -8,      /* 6982: PIN or management key needed, or wrong key */
	PIV_E_NOT_FOUND = -9,     /* 6A82 object, 6A88 key reference */
	PIV_E_NOT_SUPPORTED = -10,/* 6D00, 6E00, 6A81 */
	PIV_E_BAD_DATA = -11,     /* 6700, 6A80, 6A86, 6984, 6B00 */
	PIV_E_CONDITIONS = -12,   /* 6985 */
	PIV_E_NO_SPACE = -13,     /* 6A84 */
	PIV_E_CARD = -14,         /* any other status word */
	PIV_E_MALFORMED = -15,    /* card answered with data we cannot parse */
	PIV_E_AUTH_FAILED = -16,  /* the card failed the mutual authentication */
	PIV_E_INVALID = -17,      /* bad argument */
	PIV_E_NOMEM = -18,
	PIV_E_BUFFER_TOO_SMALL = -19,
	PIV_E_TIMEOUT = -20,
	PIV_E_CRYPTO = -21,       /* host-side cipher or random source failed */
	PIV_E_NO_APPLICATION = -22, /* the card refused to select PIV */
};

/* Instruction bytes (NIST SP 800-73-4 part 2, and the YubiKey extensions from F6) */
#define PIV_INS_VERIFY 0x20
#define PIV_INS_CHANGE_REFERENCE 0x24
#define PIV_INS_RESET_RETRY 0x2C
#define PIV_INS_GENERATE 0x47
#define PIV_INS_GENERAL_AUTHENTICATE 0x87
#define PIV_INS_SELECT 0xA4
#define PIV_INS_GET_DATA 0xCB
#define PIV_INS_PUT_DATA 0xDB
#define PIV_INS_MOVE_KEY 0xF6
#define PIV_INS_GET_METADATA 0xF7
#define PIV_INS_GET_SERIAL 0xF8
#define PIV_INS_ATTEST 0xF9
#define PIV_INS_SET_PIN_RETRIES 0xFA
#define PIV_INS_RESET 0xFB
#define PIV_INS_GET_VERSION 0xFD
#define PIV_INS_IMPORT_KEY 0xFE
#define PIV_INS_SET_MGMT_KEY 0xFF

/* Key references (P2) */
#define PIV_REF_PIN 0x80
#define PIV_REF_PUK 0x81
#define PIV_SLOT_MGMT 0x9B
#define PIV_SLOT_AUTH 0x9A
#define PIV_SLOT_SIGN 0x9C
#define PIV_SLOT_KEYMGMT 0x9D
#define PIV_SLOT_CARDAUTH 0x9E
#define PIV_SLOT_ATTEST 0xF9

/* Algorithm identifiers */
#define PIV_ALG_3DES 0x03
#define PIV_ALG_AES128 0x08
#define PIV_ALG_AES192 0x0A
#define PIV_ALG_AES256 0x0C
#define PIV_ALG_RSA1024 0x06
#define PIV_ALG_RSA2048 0x07
#define PIV_ALG_RSA3072 0x05
#define PIV_ALG_RSA4096 0x16
#define PIV_ALG_ECCP256 0x11
#define PIV_ALG_ECCP384 0x14
#define PIV_ALG_ED25519 0xE0
#define PIV_ALG_X25519 0xE1

/* PIN and touch policies (0 = the card's default) */
#define PIV_PIN_POLICY_DEFAULT 0
#define PIV_PIN_POLICY_NEVER 1
#define PIV_PIN_POLICY_ONCE 2
#define PIV_PIN_POLICY_ALWAYS 3
#define PIV_TOUCH_POLICY_DEFAULT 0
#define PIV_TOUCH_POLICY_NEVER 1
#define PIV_TOUCH_POLICY_ALWAYS 2
#define PIV_TOUCH_POLICY_CACHED 3

/* Data object tags */
#define PIV_OBJ_CCC 0x5FC107
#define PIV_OBJ_CHUID 0x5FC102
#define PIV_OBJ_CERT_9A 0x5FC105
#define PIV_OBJ_CERT_9C 0x5FC10A
#define PIV_OBJ_CERT_9D 0x5FC10B
#define PIV_OBJ_CERT_9E 0x5FC101
#define PIV_OBJ_KEY_HISTORY 0x5FC10C
#define PIV_OBJ_PRINTED 0x5FC109
#define PIV_OBJ_DISCOVERY 0x7E
#define PIV_OBJ_BITGT 0x7F61
#define PIV_OBJ_YK_ADMIN 0x5FFF00

#define PIV_PIN_MAX 8
/* Largest data object we read (YubiKey objects stay under 3 KiB). */
#define PIV_OBJECT_MAX 16384

struct piv_card {
	struct apdu_chan *chan;
	bool extended;      /* send extended-length APDUs when they save round trips */
	uint16_t last_sw;   /* status word of the last command, for logs */
	/* PIV was selected in this card session of the channel (apdu_session()). */
	bool selected;
	unsigned long session;
	/* Host challenges; cr_random() by default. */
	int (*random)(void *ctx, uint8_t *out, size_t n);
	void *random_ctx;
};

void piv_init(struct piv_card *c, struct apdu_chan *chan);
/* Off by default; piv_atr_extended() tells whether the card claims it.
 * A card answering 6700 to an extended APDU turns it off again by itself. */
void piv_set_extended(struct piv_card *c, bool on);
bool piv_atr_extended(const uint8_t *atr, size_t len);

/* The block cipher of a management-key algorithm (3DES, AES-128/192/256); false for any other alg. */
bool piv_mgmt_cipher(uint8_t alg, enum cr_block_alg *out);

/* RSA, NIST curve, Ed25519 or X25519: an algorithm a key slot can hold. */
bool piv_alg_is_asym(uint8_t alg);

/* Status word → piv_rc. For 63Cx, *tries gets x; otherwise -1 (tries may be NULL). */
int piv_sw_to_rc(uint16_t sw, int *tries);
int piv_from_apdu_rc(int apdu_rc);
const char *piv_rc_name(int rc);

/* Brackets several commands into one exclusive card session (nests). */
int piv_begin(struct piv_card *c);
int piv_end(struct piv_card *c);

/*
 * Selection. Every command below selects the PIV application first when it
 * is not selected in the current card session: once per connection, and
 * again only after the card lost its state (reset by another program,
 * pulled and put back, service restart; the command that finds out returns
 * PIV_E_CARD_RESET) or after another program selected another application
 * on the shared card (a standard PIV command answered 6D00, also reported
 * as PIV_E_CARD_RESET). The SELECT goes in one transaction with the command.
 * Never more: a YubiKey drops the PIN status when PIV is selected again.
 * When that SELECT is refused, the command is not sent and the answer is
 * PIV_E_NO_APPLICATION.
 *
 * piv_select() sends SELECT whenever it is called (logging the user out on
 * a YubiKey); the application property template (the content of tag 61) is
 * copied to apt when apt is not NULL. Its status word maps as usual.
 */
int piv_select(struct piv_card *c, uint8_t *apt, size_t cap, size_t *apt_len);

/* GET DATA: the content of the 53 (or 7E / 7F61) wrapper. */
int piv_get_data(struct piv_card *c, uint32_t tag, uint8_t *out, size_t cap, size_t *len);
/* PUT DATA; len 0 deletes the object. */
int piv_put_data(struct piv_card *c, uint32_t tag, const uint8_t *content, size_t len);

/* VERIFY with a PIN or PUK of 1..8 bytes (padded with FF). A wrong value
 * gives PIV_E_PIN_INCORRECT with *tries left, or PIV_E_PIN_BLOCKED. */
int piv_verify(struct piv_card *c, uint8_t ref, const uint8_t *pin, size_t pin_len, int *tries);
/* Empty VERIFY: spends no try. *verified tells whether the reference is
 * verified now; *tries is the retry counter (-1 when verified: the card
 * does not say). A blocked reference is verified = false, tries = 0. */
int piv_pin_status(struct piv_card *c, uint8_t ref, bool *verified, int *tries);
/* VERIFY with P1 FF: the reference is no longer verified (YubiKey 5.4.3
 * and later; older cards answer an error and change nothing). */
int piv_logout(struct piv_card *c, uint8_t ref);
/* CHANGE REFERENCE DATA for PIN (80) or PUK (81). */
int piv_change_reference(struct piv_card *c, uint8_t ref, const uint8_t *old_pin, size_t old_len,
			 const uint8_t *new_pin, size_t new_len, int *tries);
/* RESET RETRY COUNTER: PUK unblocks the PIN and sets a new one. */
int piv_reset_retry(struct piv_card *c, const uint8_t *puk, size_t puk_len,
		    const uint8_t *new_pin, size_t new_len, int *tries);

/*
 * The longest input GENERAL AUTHENTICATE is given (an Ed25519 message: the
 * card signs the whole of it); it goes in chained parts. A YubiKey's
 * command buffer holds about 3 KB.
 */
#define PIV_SIGN_INPUT_MAX 3072

/* GENERAL AUTHENTICATE with a private key: RSA raw operation (sign or
 * decrypt, input = one modulus-sized block), ECDSA over a hash, EdDSA over
 * a message. out gets the card's result (raw RSA block or DER ECDSA). */
int piv_sign(struct piv_card *c, uint8_t alg, uint8_t slot, const uint8_t *in, size_t in_len,
	     uint8_t *out, size_t cap, size_t *out_len);
/* The same operation for RSA decryption: the result (still padded) is
 * kept out of the APDU log. */
int piv_decrypt(struct piv_card *c, uint8_t alg, uint8_t slot, const uint8_t *in, size_t in_len,
		uint8_t *out, size_t cap, size_t *out_len);
/* ECDH (P-256/P-384 point 04||X||Y, or X25519 key): the shared secret,
 * kept out of the APDU log. */
int piv_ecdh(struct piv_card *c, uint8_t alg, uint8_t slot, const uint8_t *peer, size_t peer_len,
	     uint8_t *out, size_t cap, size_t *out_len);
/* Management-key authentication; mutual also checks the card's answer. */
int piv_mgmt_auth(struct piv_card *c, uint8_t alg, const uint8_t *key, size_t key_len, bool mutual);

/* Public key as returned by GENERATE or GET METADATA; pointers into the
 * caller's buffer. RSA fills modulus and exponent; EC and 25519 fill point. */
struct piv_pubkey {
	const uint8_t *modulus, *exponent, *point;
	size_t modulus_len, exponent_len, point_len;
};
int piv_parse_pubkey(uint8_t alg, const uint8_t *p, size_t n, struct piv_pubkey *pk);

/* GENERATE ASYMMETRIC KEY PAIR; buf (cap bytes) receives the card's answer
 * and pk points into it. */
int piv_generate(struct piv_card *c, uint8_t slot, uint8_t alg, uint8_t pin_policy,
		 uint8_t touch_policy, uint8_t *buf, size_t cap, struct piv_pubkey *pk);

/* The data object holding a key slot's certificate: 9A 5FC105, 9C 5FC10A,
 * 9D 5FC10B, 9E 5FC101, retired 82..95 5FC10D..5FC120; 0 for any other slot. */
uint32_t piv_cert_object(uint8_t slot);
/* A certificate object's content: 70 <certificate>, 71 <CertInfo>, FE <LRC>.
 * *cert points into p; *compressed tells that CertInfo marks it gzip'd. */
int piv_parse_cert_object(const uint8_t *p, size_t n, const uint8_t **cert, size_t *cert_len, bool *compressed);
/* Key history object: how many retired keys have their certificate on the
 * card (C1) and off it (C2). */
int piv_parse_key_history(const uint8_t *p, size_t n, int *on_card, int *off_card);

/* YubiKey extensions */
int piv_get_version(struct piv_card *c, uint8_t version[3]);
int piv_get_serial(struct piv_card *c, uint32_t *serial);

struct piv_metadata {
	int alg;                 /* -1 when absent */
	int pin_policy, touch_policy;
	int origin;              /* 1 generated, 2 imported */
	int is_default;          /* 1 / 0, -1 when absent */
	int retries_total, retries_left;
	const uint8_t *pubkey;   /* content of tag 04, into the caller's buffer */
	size_t pubkey_len;
};
int piv_get_metadata(struct piv_card *c, uint8_t slot, uint8_t *buf, size_t cap, struct piv_metadata *md);
int piv_parse_metadata(const uint8_t *p, size_t n, struct piv_metadata *md);

int piv_set_pin_retries(struct piv_card *c, uint8_t pin_tries, uint8_t puk_tries);
/* Key parts, big-endian: RSA p, q, dP, dQ, qInv (5 parts); EC or 25519
 * private value (1 part). Each is left-padded to the algorithm's size. */
struct piv_bytes {
	const uint8_t *d;
	size_t len;
};
int piv_import_key(struct piv_card *c, uint8_t slot, uint8_t alg, const struct piv_bytes *parts,
		   size_t nparts, uint8_t pin_policy, uint8_t touch_policy);
int piv_reset(struct piv_card *c);
/* YubiKey 5.7 MOVE KEY with destination FF: the key in slot is deleted. */
int piv_delete_key(struct piv_card *c, uint8_t slot);
int piv_set_mgmt_key(struct piv_card *c, uint8_t alg, const uint8_t *key, size_t key_len, bool touch);
/* Attestation certificate (DER) for a key generated on the card. */
int piv_attest(struct piv_card *c, uint8_t slot, uint8_t *out, size_t cap, size_t *len);

#endif
