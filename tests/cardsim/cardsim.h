/* signet-cardsim: a PIV card (YubiKey 5 flavour) that plugs into pcscd
 * through the vsmartcard vpcd driver. Shared declarations of its parts:
 *   cs_main.c      options, vpcd socket loop, signals, APDU counter, trace
 *   cs_transport.c APDU parsing, command chaining, 61xx/GET RESPONSE, faults
 *   cs_piv.c       SELECT, data objects, PIN/PUK, YubiKey administration
 *   cs_keys.c      asymmetric keys: generate, import, sign/decrypt/ECDH
 *   cs_mgmt.c      management key authentication and SET MGMT KEY
 *   cs_state.c     the state file (atomic rewrite after every change)
 *   cs_personal.c  the "default" personalisation and attestation
 *   cs_pcsc.c      --wait-reader and --apdu: tiny pcsc-lite clients for tests */
#ifndef SIGNET_CARDSIM_H
#define SIGNET_CARDSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "apdu/buf.h"
#include "apdu/tlv.h"

#define CS_VERSION_MAJOR 5
#define CS_VERSION_MINOR 7
#define CS_VERSION_PATCH 2

/* Sizes of a YubiKey 5: one object up to about 3 KB, about 50 KB in all. */
#define CS_MAX_OBJECT 3063
#define CS_MAX_STORAGE 51200
#define CS_MAX_OBJECTS 64
#define CS_MAX_CHAIN 65536
#define CS_MAX_RESPONSE 65536
/* vpcd frames carry at most 65535 bytes: response data plus SW1 SW2. */
#define CS_MAX_FRAME_DATA 65533

/* Status words. */
#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_BLOCKED 0x6983
#define SW_CONDITIONS 0x6985
#define SW_WRONG_DATA 0x6A80
#define SW_NOT_SUPPORTED 0x6A81
#define SW_NOT_FOUND 0x6A82
#define SW_NO_MEMORY 0x6A84
#define SW_INCORRECT_P1P2 0x6A86
#define SW_REF_NOT_FOUND 0x6A88
#define SW_WRONG_P1P2 0x6B00
#define SW_INS_NOT_SUPPORTED 0x6D00
#define SW_CLA_NOT_SUPPORTED 0x6E00
#define SW_UNKNOWN 0x6F00

#define ORIGIN_GENERATED 1
#define ORIGIN_IMPORTED 2

struct cs_key {
	bool present;
	uint8_t alg;
	uint8_t pin_policy;
	uint8_t touch_policy;
	uint8_t origin;
	EVP_PKEY *pkey;
};

struct cs_object {
	uint32_t tag;
	uint8_t *data;
	size_t len;
};

enum cs_chal { CHAL_NONE, CHAL_ONE_WAY, CHAL_MUTUAL };

enum cs_fault {
	FAULT_NONE,
	FAULT_TRUNCATE,   /* drop the second half of the response data */
	FAULT_BAD_LENGTH, /* make the first BER length claim more than there is */
	FAULT_GARBAGE_SW, /* replace the status word with A5 5A */
	FAULT_SHORT,      /* a one-byte response */
	FAULT_NO_DATA,    /* keep the status word, drop the data */
	FAULT_DROP,       /* no answer: the card is pulled during the APDU and comes back */
};

struct cs_card {
	/* Persistent part (written to the state file). */
	uint8_t pin[8], puk[8];
	uint8_t pin_total, pin_left, puk_total, puk_left;
	bool pin_default, puk_default;
	uint8_t mgmt_alg;
	uint8_t mgmt_key[32];
	size_t mgmt_len;
	uint8_t mgmt_touch;
	bool mgmt_default;
	uint32_t serial;
	struct cs_key keys[256]; /* indexed by key reference */
	struct cs_object objs[CS_MAX_OBJECTS];

	/* Volatile state, lost on power-on and reset: the selected application
	 * and the security status, which a YubiKey also drops when PIV is
	 * selected again or another application is selected. */
	bool piv_selected;
	bool pin_verified;
	bool pin_fresh;     /* the previous command was a successful VERIFY */
	bool pin_fresh_cmd; /* pin_fresh as it was when this command arrived */
	bool mgmt_authed;
	enum cs_chal chal;
	uint8_t chal_value[16];

	/* Transport state. */
	uint8_t chain_ins, chain_p1, chain_p2;
	uint8_t *chain;
	size_t chain_len;
	bool chaining;
	uint8_t *pending;
	size_t pending_len, pending_off;

	/* Behaviour switches. */
	bool no_extended;
	bool no_touch; /* nobody touches: operations that need a touch time out */
	/* SP 800-73-4 instead of the YubiKey: PIV is selected from power-on
	 * and stays selected when another AID is not found ... */
	bool preselected;
	/* ... and selecting PIV again keeps PIN and management-key status. */
	bool keep_status_on_reselect;
	/* A bare SP 800-73-4 card: none of the YubiKey instructions (F6..FF,
	 * answered 6D00), so no serial, version, metadata, attestation or reset. */
	bool plain_piv;
	enum cs_fault fault;
	int fault_ins; /* -1 = every command */
	bool trace;
	const char *state_path;
	bool dirty; /* persistent part changed: rewrite the state file */
};

/* A parsed command APDU (after chaining). */
struct cs_cmd {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t ne; /* 0 = no Le; else expected length (256 / 65536 for 00) */
	bool extended;
};

/* cs_transport.c */
/* Power-on, power-off or reset: only the persistent part is left, and no
 * application is selected (unless preselected). */
void cs_card_power_event(struct cs_card *c);
/* Forgets PIN verification, management-key authentication and any pending
 * management-key challenge. */
void cs_card_forget_security(struct cs_card *c);
/* Handles one raw command APDU; writes the raw response (data + SW) to out. */
void cs_card_process(struct cs_card *c, const uint8_t *apdu, size_t n, struct buf *out);
bool cs_apdu_is_sensitive(const uint8_t *apdu, size_t n);

/* cs_piv.c: handles a complete command; appends data to rdata, returns SW. */
uint16_t cs_piv_dispatch(struct cs_card *c, const struct cs_cmd *cmd, struct buf *rdata);
void cs_card_defaults(struct cs_card *c);
void cs_card_free(struct cs_card *c);
struct cs_object *cs_object_find(struct cs_card *c, uint32_t tag);
int cs_object_set(struct cs_card *c, uint32_t tag, const uint8_t *data, size_t len);
/* The GENERAL AUTHENTICATE dynamic authentication template (7C). The walk
 * hands each item inside it to take(), which returns -1 to refuse it. */
int cs_dyn_auth_walk(const struct cs_cmd *cmd, int (*take)(void *ctx, uint32_t tag, const uint8_t *v, size_t len),
		     void *ctx);
void cs_dyn_auth_put(struct buf *r, uint8_t tag, const uint8_t *v, size_t len);

/* cs_keys.c */
bool cs_slot_is_key(uint8_t slot);
uint8_t cs_default_pin_policy(uint8_t slot);
EVP_PKEY *cs_key_generate(uint8_t alg);
uint8_t cs_key_alg_of(EVP_PKEY *pkey); /* 0 when unsupported */
int cs_key_public_tlvs(EVP_PKEY *pkey, struct buf *o);
uint16_t cs_cmd_generate(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r);
uint16_t cs_cmd_import(struct cs_card *c, const struct cs_cmd *cmd);
uint16_t cs_key_operation(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r);
void cs_key_clear(struct cs_key *k);

/* cs_mgmt.c */
uint16_t cs_mgmt_authenticate(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r);
uint16_t cs_cmd_set_mgmt_key(struct cs_card *c, const struct cs_cmd *cmd);
size_t cs_mgmt_key_len(uint8_t alg);

/* cs_state.c */
int cs_state_load(struct cs_card *c, const char *path); /* 0 ok, 1 absent, -1 bad */
int cs_state_save(const struct cs_card *c, const char *path);

/* cs_personal.c */
int cs_personalize_default(struct cs_card *c);
int cs_make_attestation_key(struct cs_card *c);
uint16_t cs_cmd_attest(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r);

/* cs_pcsc.c */
/* Prints the names of the first `cards` readers named PREFIX... that hold a
 * card, once there are that many; returns 0, or -1 after timeout_ms. With
 * absent, waits instead until no such reader holds a card (pcscd running). */
int cs_wait_reader(const char *prefix, int cards, int timeout_ms, bool absent);
/* Connects to reader and sends each hex APDU (or, when count is 0, each line
 * of stdin); prints each response as hex or "ERR <pcsc code>". */
int cs_send_apdus(const char *reader, char **apdus, int count);

/* Logging to stderr, prefixed; never used with secret data. */
void cs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
