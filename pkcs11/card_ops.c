/*
 * The PIV card's token_ops: description, sessions, login and PINs, objects,
 * and the one private-key operation a card does per call (CKM_RSA_X_509
 * sign and decrypt, CKM_ECDSA over a hash, CKM_EDDSA over a whole message,
 * CKM_ECDH1_DERIVE on P-256, P-384 and X25519). The core composes
 * everything else (hashing, padding, verification) on the host.
 *
 * Every result that comes back from the card is checked against the listed
 * public key before it is returned (a signature must verify, a decryption
 * must encrypt back to its input), so a malformed answer, or a key that
 * another program replaced, ends as CKR_DEVICE_ERROR and never as a wrong
 * result with CKR_OK.
 */
#include "pkcs11/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ecdsa.h"
#include "crypto/verify.h"
#include "crypto/wipe.h"
#include "pkcs11/log.h"

#define MAX_BLOCK 512        /* RSA-4096 */
#define MAX_RESULT 1024
/* The longest message the card is given to sign with Ed25519 (apdu/piv.h). */
#define CARD_EDDSA_MAX_MESSAGE ((CK_ULONG)PIV_SIGN_INPUT_MAX)
#define FIRST_SESSION_REF ((token_ref)0x8000000) /* above card objects (card_objects.c) and attestations */

struct card_op {
	bool active;
	CK_MECHANISM_TYPE mech;
	token_ref key;
	uint8_t slot;
	uint8_t alg;
	size_t out_len;          /* modulus size, or 2 x the field size */
	enum cr_curve curve;
	bool needs_context;      /* CKA_ALWAYS_AUTHENTICATE: C_Login(CKU_CONTEXT_SPECIFIC) first */
	uint8_t *message;        /* CKM_EDDSA in parts: the message so far, signed whole at C_SignFinal */
	size_t message_len;
};

struct card_sess {
	unsigned long id;
	unsigned long generation;
	bool rw;
	struct card_op ops[TOKEN_OP_COUNT];
};

/* Takes the lock for a call on a session; a session of a card that has left gets nowhere. */
static CK_RV enter(struct token *t, const struct card_sess *s)
{
	CK_RV rv = card_lock(t);

	if (rv != CKR_OK)
		return rv;
	if (s != NULL && s->generation != t->generation) {
		card_unlock(t);
		return CKR_DEVICE_REMOVED;
	}
	return CKR_OK;
}

static CK_RV leave(struct token *t, CK_RV rv)
{
	/* A different card seen during a PIN command: the policy hears of it once it has judged. */
	card_pin_deliver(&t->pin);
	card_unlock(t);
	return rv;
}

CK_RV card_enter(struct token *t, const void *ss)
{
	return enter(t, ss);
}

CK_RV card_leave(struct token *t, CK_RV rv)
{
	return leave(t, rv);
}

unsigned long card_session_id(const void *ss)
{
	return ((const struct card_sess *)ss)->id;
}

bool card_session_rw(const void *ss)
{
	return ((const struct card_sess *)ss)->rw;
}

static void blank_pad(CK_UTF8CHAR *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', size);
	memcpy(dst, src, n < size ? n : size);
}

/* ---- description ---- */

static CK_RV card_slot_info(struct token *t, CK_SLOT_INFO *info)
{
	CK_RV rv = enter(t, NULL);

	if (rv != CKR_OK)
		return rv;
	card_watch_locked(t);
	memset(info, 0, sizeof(*info));
	blank_pad(info->slotDescription, sizeof(info->slotDescription), t->reader);
	blank_pad(info->manufacturerID, sizeof(info->manufacturerID), "PC/SC reader");
	info->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT | (t->present && !t->gone ? CKF_TOKEN_PRESENT : 0);
	return leave(t, CKR_OK);
}

/*
 * "YubiKey PIV #<serial>" or "PIV card #<serial>": unique, and stable
 * whatever the card holds (a certificate renewed or a card reset keeps it),
 * so that RFC 7512 URIs naming the token keep working.
 */
static void make_label(const struct token *t, bool yubikey, CK_UTF8CHAR out[CARD_LABEL_MAX])
{
	char label[CARD_LABEL_MAX + 1];

	snprintf(label, sizeof(label), "%s%s%s", yubikey ? "YubiKey PIV" : "PIV card", t->serial_text[0] ? " #" : "",
		 t->serial_text);
	blank_pad(out, CARD_LABEL_MAX, label);
}

static CK_RV describe(struct token *t, CK_TOKEN_INFO *info)
{
	bool yubikey = t->yubikey || card_is_yubikey_atr(t);

	memset(info, 0, sizeof(*info));
	make_label(t, yubikey, info->label);
	blank_pad(info->manufacturerID, sizeof(info->manufacturerID), yubikey ? "Yubico" : "PIV");
	blank_pad(info->model, sizeof(info->model), yubikey ? "YubiKey PIV" : "PIV card");
	blank_pad(info->serialNumber, sizeof(info->serialNumber), t->serial_text);
	info->flags = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
	info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	if (t->have_version) {
		info->firmwareVersion.major = t->version[0];
		info->firmwareVersion.minor = t->version[1];
	}
	memset(info->utcTime, ' ', sizeof(info->utcTime));
	return card_pin_token_info(&t->pin, t->conf, info);
}

static CK_RV card_token_info(struct token *t, CK_TOKEN_INFO *info)
{
	CK_RV rv = enter(t, NULL);

	if (rv != CKR_OK)
		return rv;
	card_watch_locked(t);
	rv = t->present && !t->gone ? card_ready(t) : CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK)
		rv = card_refresh_status(t, false);
	/* The flags stay as last known when a status read fails for a reason other than the card leaving. */
	if (rv != CKR_OK && rv != CKR_DEVICE_REMOVED && rv != CKR_TOKEN_NOT_PRESENT && t->identified)
		rv = CKR_OK;
	if (rv == CKR_OK)
		rv = describe(t, info);
	return leave(t, rv);
}

/*
 * The tries as the policy judges them from the counters last read
 * (C_GetTokenInfo keeps the PIN's fresh). The PUK's is read once when not
 * known yet, where the card tells it without spending a try (GET
 * METADATA, one APDU): an application asks for it, no polling loop does.
 * A YubiKey has a reset command and sets its retry counters; other PIV
 * cards do neither.
 */
static CK_RV card_pin_tries(struct token *t, struct token_pin_tries *out)
{
	CK_RV rv = enter(t, NULL);

	*out = (struct token_pin_tries){ -1, -1, -1, -1, false, false };
	if (rv != CKR_OK)
		return rv;
	card_watch_locked(t);
	rv = t->present && !t->gone ? card_ready(t) : CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK && !card_pin_known(&t->pin, PIN_SO))
		rv = card_read_puk_status(t);
	if (rv == CKR_OK)
		rv = pin_policy_tries(t->pin.policy, PIN_USER, &out->user_left, &out->user_max);
	if (rv == CKR_OK)
		rv = pin_policy_tries(t->pin.policy, PIN_SO, &out->so_left, &out->so_max);
	out->can_reset = card_has_yubikey_commands(t);
	out->can_set_retries = card_has_yubikey_commands(t);
	return leave(t, rv);
}

/* The keys a mechanism works with, which give its key sizes. */
enum mech_keys { KEYS_RSA, KEYS_EC, KEYS_25519 };

#define EC_FORMS (CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS)

static const struct {
	CK_MECHANISM_TYPE type;
	CK_FLAGS flags;
	enum mech_keys keys;
} mechanisms[] = {
	{ CKM_RSA_X_509, CKF_HW | CKF_SIGN | CKF_DECRYPT, KEYS_RSA },
	{ CKM_ECDSA, CKF_HW | CKF_SIGN | EC_FORMS, KEYS_EC },
	/* P-256 and P-384, and X25519 on a card that has it */
	{ CKM_ECDH1_DERIVE, CKF_HW | CKF_DERIVE | EC_FORMS, KEYS_EC },
	{ CKM_EDDSA, CKF_HW | CKF_SIGN | CKF_EC_OID, KEYS_25519 },
	/* generated on the card (card_keys.c) */
	{ CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_HW | CKF_GENERATE_KEY_PAIR, KEYS_RSA },
	{ CKM_EC_KEY_PAIR_GEN, CKF_HW | CKF_GENERATE_KEY_PAIR | EC_FORMS, KEYS_EC },
	{ CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_HW | CKF_GENERATE_KEY_PAIR | CKF_EC_OID, KEYS_25519 },
	{ CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKF_HW | CKF_GENERATE_KEY_PAIR | CKF_EC_OID, KEYS_25519 },
};
#define N_MECHANISMS (sizeof(mechanisms) / sizeof(mechanisms[0]))


/*
 * Ed25519 and X25519 (YubiKey 5.7 and later): from the firmware version
 * where it is known, else from the keys listed, without an APDU.
 */
static bool has_25519(const struct token *t)
{
	if (card_version_at_least(t, 5, 7))
		return true;
	for (int i = 0; t->inventory && i < CARD_KEY_SLOTS; i++)
		if (t->keys[i].has_key && (t->keys[i].alg == PIV_ALG_ED25519 || t->keys[i].alg == PIV_ALG_X25519))
			return true;
	return false;
}

/*
 * What the card in the reader is: its mechanisms depend on its firmware,
 * so a card not identified yet is identified first, as C_GetTokenInfo
 * does (the same APDUs, once per card; none when its cache is warm but
 * the identity). Failing that, what its ATR says. Caller holds the lock.
 */
static void card_model_locked(struct token *t, bool *yubikey, bool *curve25519)
{
	if (!t->identified) {
		card_watch_locked(t);
		if (t->present && !t->gone && card_ready(t) != CKR_OK)
			log_msg(LL_INFO, "card in %s not identified: its mechanisms as its ATR tells", t->reader);
	}
	if (t->present && !t->gone && t->pc == NULL)
		card_connect(t);
	*yubikey = t->yubikey || card_is_yubikey_atr(t);
	*curve25519 = has_25519(t);
}

static CK_RV card_mechanism_list(struct token *t, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	bool yubikey, curve25519;
	CK_ULONG n = 0;
	CK_RV rv = card_lock(t);

	if (rv != CKR_OK)
		return rv;
	card_model_locked(t, &yubikey, &curve25519);
	card_unlock(t);
	for (size_t i = 0; i < N_MECHANISMS; i++) {
		if (mechanisms[i].keys == KEYS_25519 && !curve25519)
			continue;
		if (list != NULL && n < *count)
			list[n] = mechanisms[i].type;
		n++;
	}
	rv = list != NULL && n > *count ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*count = n;
	return rv;
}

/* From what the card is, without an APDU: a YubiKey takes RSA up to 4096 bits (5.7 and later). */
static CK_RV card_mechanism_info(struct token *t, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	bool yubikey, curve25519;
	CK_RV rv;

	for (size_t i = 0; i < N_MECHANISMS; i++) {
		if (mechanisms[i].type != type)
			continue;
		rv = card_lock(t);
		if (rv != CKR_OK)
			return rv;
		card_model_locked(t, &yubikey, &curve25519);
		card_unlock(t);
		if (mechanisms[i].keys == KEYS_25519 && !curve25519)
			return CKR_MECHANISM_INVALID;
		info->flags = mechanisms[i].flags;
		switch (mechanisms[i].keys) {
		case KEYS_RSA:
			info->ulMinKeySize = 1024;
			info->ulMaxKeySize = yubikey ? 4096 : 2048;
			break;
		case KEYS_EC:
			info->ulMinKeySize = 256;
			info->ulMaxKeySize = 384;
			break;
		case KEYS_25519:
			info->ulMinKeySize = info->ulMaxKeySize = 256;
			break;
		}
		return CKR_OK;
	}
	return CKR_MECHANISM_INVALID;
}

/* ---- sessions ---- */

static CK_RV card_session_open(struct token *t, CK_FLAGS flags, void **state)
{
	struct card_sess *s;
	CK_RV rv = enter(t, NULL);

	if (rv != CKR_OK)
		return rv;
	card_watch_locked(t);
	rv = t->present && !t->gone ? card_ready(t) : CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK && (s = calloc(1, sizeof(*s))) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK) {
		s->id = ++t->next_session;
		s->generation = t->generation;
		s->rw = (flags & CKF_RW_SESSION) != 0;
		*state = s;
	}
	return leave(t, rv);
}

static void drop_session_objects(struct token *t, unsigned long owner)
{
	size_t k = 0;

	for (size_t i = 0; i < t->nobjs; i++) {
		if (t->objs[i].owner == owner && owner != 0)
			attrs_free(&t->objs[i].attrs);
		else
			t->objs[k++] = t->objs[i];
	}
	t->nobjs = k;
}

static void card_session_close(struct token *t, void *state, bool quietly)
{
	struct card_sess *s = state;

	/* Quietly: the card left (its objects went with it), or the process is exiting or a forked child. */
	if (!quietly && card_lock(t) == CKR_OK) {
		if (t->ctx_session == s->id)
			card_drop_context_auth(t);
		if (s->generation == t->generation)
			drop_session_objects(t, s->id);
		card_unlock(t);
	}
	free(s);
}

/* ---- PINs ---- */

struct pin_args {
	struct token *t;
	const CK_UTF8CHAR *pin, *other;
	CK_ULONG len, other_len;
	bool hold;               /* keep a transaction open after a good VERIFY (PIN-always keys) */
};

/* The card's verdict on a PIN command, told apart from a card that could not judge it. */
static CK_RV pin_verdict(struct token *t, int rc, int *tries)
{
	if (rc == PIV_E_PIN_BLOCKED) {
		/* 63C0: this try was wrong and used the last one; 6983: nothing was tried. */
		if (t->piv.last_sw != 0x6983) {
			*tries = 0;
			return CKR_PIN_INCORRECT;
		}
		return CKR_PIN_LOCKED;
	}
	if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
		card_watch_locked(t);
	return card_rv(rc);
}

enum pin_cmd { CMD_VERIFY, CMD_CHECK_PUK, CMD_CHANGE_PIN, CMD_CHANGE_PUK, CMD_RESET_RETRY };

static int pin_command(struct pin_args *a, enum pin_cmd cmd, int *tries)
{
	struct piv_card *c = &a->t->piv;

	switch (cmd) {
	case CMD_VERIFY: return piv_verify(c, PIV_REF_PIN, a->pin, a->len, tries);
	case CMD_CHECK_PUK: return piv_change_reference(c, PIV_REF_PUK, a->pin, a->len, a->pin, a->len, tries);
	case CMD_CHANGE_PIN:
		return piv_change_reference(c, PIV_REF_PIN, a->pin, a->len, a->other, a->other_len, tries);
	case CMD_CHANGE_PUK:
		return piv_change_reference(c, PIV_REF_PUK, a->pin, a->len, a->other, a->other_len, tries);
	default: return piv_reset_retry(c, a->t->puk, a->t->puk_len, a->pin, a->len, tries);
	}
}

/* Whose counter a PIN command spends. */
static enum pin_who counter_of(enum pin_cmd cmd)
{
	return cmd == CMD_VERIFY || cmd == CMD_CHANGE_PIN ? PIN_USER : PIN_SO;
}

/* What a command that went through tells of the counters beyond its own. */
static void note_success(struct token *t, enum pin_cmd cmd)
{
	if (cmd == CMD_CHANGE_PIN)
		card_pin_note(&t->pin, PIN_USER, -1, -1, 0);
	else if (cmd == CMD_RESET_RETRY)
		card_pin_settle(&t->pin, PIN_USER, CKR_OK, -1);
}

/*
 * Sends one PIN command. A card session lost before the command went out
 * (another program reset the card) is checked for being the same card and
 * the command sent once more: it is the caller's own attempt, not a PIN
 * replayed on signet's initiative.
 */
static CK_RV send_pin_once(struct pin_args *a, enum pin_cmd cmd, int *tries)
{
	/* After a reset a PIN-always VERIFY or a PUK kept from the SO login has nothing left to stand on. */
	bool needs_login = a->hold || cmd == CMD_RESET_RETRY;
	struct token *t = a->t;
	int rc = PIV_E_CARD_RESET;
	CK_RV rv;

	for (int attempt = 0; attempt < 2 && rc == PIV_E_CARD_RESET; attempt++) {
		rc = a->hold ? piv_begin(&t->piv) : PIV_OK;
		if (rc == PIV_OK) {
			rc = pin_command(a, cmd, tries);
			/* A good VERIFY for a PIN-always key keeps its transaction for the operation. */
			if (a->hold && rc != PIV_OK)
				piv_end(&t->piv);
		}
		if (rc == PIV_E_CARD_RESET && (rv = card_after_reset(t, needs_login)) != CKR_OK)
			return rv;
	}
	return pin_verdict(t, rc, tries);
}

/* The policy's pin_send: the command, and the card's counter as its answer leaves it. */
static CK_RV send_pin(struct pin_args *a, enum pin_cmd cmd)
{
	struct token *t = a->t;
	int tries = -1;
	CK_RV rv;

	t->pin.sending = true;
	rv = send_pin_once(a, cmd, &tries);
	t->pin.sending = false;
	card_pin_settle(&t->pin, counter_of(cmd), rv, tries);
	if (rv == CKR_OK)
		note_success(t, cmd);
	return rv;
}

static CK_RV send_verify(void *ctx) { return send_pin(ctx, CMD_VERIFY); }
static CK_RV send_puk_check(void *ctx) { return send_pin(ctx, CMD_CHECK_PUK); }
static CK_RV send_change_pin(void *ctx) { return send_pin(ctx, CMD_CHANGE_PIN); }
static CK_RV send_change_puk(void *ctx) { return send_pin(ctx, CMD_CHANGE_PUK); }
static CK_RV send_reset_retry(void *ctx) { return send_pin(ctx, CMD_RESET_RETRY); }

static void keep_puk(struct token *t, const CK_UTF8CHAR *puk, CK_ULONG len)
{
	card_wipe_puk(t);
	memcpy(t->puk, puk, len);
	t->puk_len = len;
}

/* The operation a C_Login(CKU_CONTEXT_SPECIFIC) is for: sign before decrypt. */
static struct card_op *context_op(struct card_sess *s)
{
	if (s->ops[TOKEN_OP_SIGN].active)
		return &s->ops[TOKEN_OP_SIGN];
	if (s->ops[TOKEN_OP_DECRYPT].active)
		return &s->ops[TOKEN_OP_DECRYPT];
	return NULL;
}

static CK_RV login_context(struct token *t, struct card_sess *s, struct pin_args *a)
{
	struct card_op *op = context_op(s);
	CK_RV rv;

	if (op == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	/*
	 * A PIN-always key signs only right after VERIFY: the transaction
	 * opened here stays open until the operation runs, so that no other
	 * program's command comes in between.
	 */
	a->hold = op->needs_context;
	rv = card_pin_check_length(a->len, "PIN");
	if (rv == CKR_OK)
		rv = pin_policy_login(t->pin.policy, CKU_CONTEXT_SPECIFIC, a->pin, a->len, send_verify, a);
	if (rv == CKR_OK && a->hold)
		t->ctx_session = s->id;
	return rv;
}

/*
 * enter(), then the card ready for a PIN command. A PIN-always VERIFY still
 * waiting for its operation goes: this command comes between them.
 */
static CK_RV enter_for_pin(struct token *t, const struct card_sess *s)
{
	CK_RV rv = enter(t, s);

	if (rv != CKR_OK)
		return rv;
	rv = card_ready(t);
	if (rv != CKR_OK)
		return leave(t, rv);
	card_drop_context_auth(t);
	return CKR_OK;
}

static CK_RV card_login(struct token *t, void *ss, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct card_sess *s = ss;
	struct pin_args a = { t, pin, NULL, len, 0, false };
	CK_RV rv = enter_for_pin(t, s);

	if (rv != CKR_OK)
		return rv;
	if (who == CKU_CONTEXT_SPECIFIC)
		return leave(t, login_context(t, s, &a));
	rv = card_pin_check_length(len, who == CKU_SO ? "PUK" : "PIN");
	if (rv == CKR_OK && who == CKU_SO) {
		/* A PUK signet knows to be locked for good is not even asked about. */
		if (!card_pin_known(&t->pin, PIN_SO) && !card_pin_so_locked(&t->pin))
			rv = card_read_puk_status(t);
		if (rv == CKR_OK)
			rv = pin_policy_login(t->pin.policy, CKU_SO, pin, len, send_puk_check, &a);
		if (rv == CKR_OK) {
			keep_puk(t, pin, len);
			t->login = CKU_SO;
		}
		return leave(t, rv);
	}
	if (rv == CKR_OK && !card_pin_known(&t->pin, PIN_USER))
		rv = card_refresh_status(t, true);
	if (rv == CKR_OK)
		rv = pin_policy_login(t->pin.policy, CKU_USER, pin, len, send_verify, &a);
	if (rv == CKR_OK)
		t->login = CKU_USER;
	return leave(t, rv);
}

static CK_RV card_logout(struct token *t, void *ss)
{
	CK_RV rv = enter(t, ss);

	if (rv != CKR_OK)
		return rv;
	card_drop_context_auth(t);
	/* The card keeps a verified PIN for every program until told otherwise. */
	if (t->login == CKU_USER && t->pc != NULL && t->present) {
		int rc = piv_logout(&t->piv, PIV_REF_PIN);

		if (rc != PIV_OK)
			log_msg(LL_DEBUG, "the card in %s did not log out: %s", t->reader, piv_rc_name(rc));
	}
	card_forget_login(t);
	return leave(t, CKR_OK);
}

/* A new PUK is any PIV value; a new PIN also keeps to [policy]'s lengths. */
static CK_RV new_pin_length(const struct token *t, enum pin_who who, CK_ULONG len)
{
	CK_ULONG min, max;

	if (who == PIN_SO)
		return card_pin_check_length(len, "new PUK");
	card_pin_lengths(t->conf, &min, &max);
	if (len >= min && len <= max)
		return CKR_OK;
	log_msg(LL_WARNING, "new PIN of length %lu refused: %lu to %lu characters; not sent", (unsigned long)len,
		(unsigned long)min, (unsigned long)max);
	return CKR_PIN_LEN_RANGE;
}

static CK_RV card_init_pin(struct token *t, void *ss, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct pin_args a = { t, pin, NULL, len, 0, false };
	CK_RV rv = enter_for_pin(t, ss);

	if (rv != CKR_OK)
		return rv;
	if (t->login != CKU_SO || t->puk_len == 0)
		return leave(t, CKR_USER_NOT_LOGGED_IN);
	rv = new_pin_length(t, PIN_USER, len);
	if (rv == CKR_OK)
		rv = pin_policy_init_pin(t->pin.policy, len, send_reset_retry, &a);
	return leave(t, rv);
}

static CK_RV card_set_pin(struct token *t, void *ss, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			  const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	struct pin_args a = { t, old_pin, new_pin, old_len, new_len, false };
	bool so;
	CK_RV rv = enter_for_pin(t, ss);

	if (rv != CKR_OK)
		return rv;
	/* The PUK in an SO session, the PIN otherwise. */
	so = t->login == CKU_SO;
	rv = card_pin_check_length(old_len, so ? "PUK" : "PIN");
	if (rv == CKR_OK)
		rv = new_pin_length(t, so ? PIN_SO : PIN_USER, new_len);
	if (rv == CKR_OK && so && !card_pin_known(&t->pin, PIN_SO))
		rv = card_read_puk_status(t);
	if (rv == CKR_OK)
		rv = pin_policy_set_pin(t->pin.policy, so ? PIN_SO : PIN_USER, old_pin, old_len, new_pin, new_len,
					so ? send_change_puk : send_change_pin, &a);
	if (rv == CKR_OK && so)
		keep_puk(t, new_pin, new_len);
	return leave(t, rv);
}

/* ---- objects ---- */

static CK_RV card_find(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref **refs,
		       CK_ULONG *found)
{
	struct card_sess *s = ss;
	struct attr_list want = ATTR_LIST_INIT;
	token_ref *list = NULL;
	CK_ULONG n = 0;
	bool attest = card_attest_wanted(tmpl, count);
	CK_RV rv = enter(t, s);

	if (rv != CKR_OK)
		return rv;
	rv = card_load_objects(t);
	if (rv == CKR_OK && attest)
		rv = card_attest_load(t);
	if (rv == CKR_OK && card_needs_description(tmpl, count))
		rv = card_describe_keys(t);
	if (rv == CKR_OK)
		rv = attrs_from_template(&want, tmpl, count);
	if (rv == CKR_OK && (list = malloc((t->nobjs + 1) * sizeof(*list))) == NULL)
		rv = CKR_HOST_MEMORY;
	for (size_t i = 0; rv == CKR_OK && i < t->nobjs; i++) {
		const struct card_obj *o = &t->objs[i];

		if (card_attest_is(o) && !attest)
			continue;
		if (card_obj_visible(t, o, s->id) && attrs_match(&o->attrs, &want, attrs_key_secret, NULL))
			list[n++] = o->ref;
	}
	attrs_free(&want);
	if (rv == CKR_OK) {
		*refs = list;
		*found = n;
	} else {
		free(list);
	}
	return leave(t, rv);
}

static struct card_obj *visible_object(struct token *t, const struct card_sess *s, token_ref ref)
{
	struct card_obj *o = card_obj_find(t, ref);

	return o != NULL && card_obj_visible(t, o, s->id) ? o : NULL;
}

/* The card's key behind a key object of a slot, NULL for any other object. */
static struct card_key *key_of_object(struct token *t, const struct card_obj *o)
{
	CK_ULONG cls = 0;

	if (o->owner != 0 || !attrs_get_ulong(&o->attrs, CKA_CLASS, &cls) ||
	    (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY))
		return NULL;
	return card_key_of_slot(t, o->slot);
}

/* Asks the card about the object's key first when the template wants what only the card says of it. */
static CK_RV described_object(struct token *t, const struct card_sess *s, token_ref ref, const CK_ATTRIBUTE *tmpl,
			      CK_ULONG count, struct card_obj **out)
{
	struct card_obj *o = visible_object(t, s, ref);
	struct card_key *k = o != NULL ? key_of_object(t, o) : NULL;
	CK_RV rv;

	if (k != NULL && card_needs_description(tmpl, count)) {
		rv = card_describe_key(t, k);
		if (rv != CKR_OK)
			return rv == CKR_KEY_HANDLE_INVALID ? CKR_OBJECT_HANDLE_INVALID : rv;
		o = visible_object(t, s, ref); /* the objects were made again */
	}
	*out = o;
	return o != NULL ? CKR_OK : CKR_OBJECT_HANDLE_INVALID;
}

static CK_RV card_get_attributes(struct token *t, void *ss, token_ref obj, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	struct card_obj *o = NULL;
	CK_RV rv = enter(t, ss);

	if (rv != CKR_OK)
		return rv;
	rv = described_object(t, ss, obj, tmpl, count, &o);
	if (rv == CKR_OK)
		rv = attrs_get_value(&o->attrs, tmpl, count, attrs_key_secret, NULL);
	return leave(t, rv);
}

/* ---- private-key operations ---- */

/* The private key an operation may use, with the checks a card makes, in PKCS#11's order. */
static CK_RV usable_key(struct token *t, const struct card_sess *s, token_ref ref, CK_ATTRIBUTE_TYPE use,
			CK_KEY_TYPE want, struct card_obj **out, struct card_key **key)
{
	struct card_obj *o = visible_object(t, s, ref);
	CK_ULONG cls = 0, type = 0;
	bool allowed = false;

	if (o == NULL)
		return t->login == CKU_USER ? CKR_KEY_HANDLE_INVALID : CKR_USER_NOT_LOGGED_IN;
	if (!attrs_get_ulong(&o->attrs, CKA_CLASS, &cls) || cls != CKO_PRIVATE_KEY || o->owner != 0 ||
	    !attrs_get_bool(&o->attrs, use, &allowed) || !allowed)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!attrs_get_ulong(&o->attrs, CKA_KEY_TYPE, &type) || type != want)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	*out = o;
	*key = card_key_of_slot(t, o->slot);
	return *key != NULL ? pin_policy_key_use(t->pin.policy) : CKR_KEY_HANDLE_INVALID;
}

/*
 * CKM_EDDSA's parameter: none, or CK_EDDSA_PARAMS asking for plain Ed25519
 * (not pre-hashed, no context), which is all a PIV card signs with.
 */
static CK_RV eddsa_params(const CK_MECHANISM *mech)
{
	const CK_EDDSA_PARAMS *p = mech->pParameter;

	if (p == NULL && mech->ulParameterLen == 0)
		return CKR_OK;
	if (p == NULL || mech->ulParameterLen != sizeof(*p) || p->phFlag || p->ulContextDataLen != 0) {
		log_msg(LL_INFO, "CKM_EDDSA on a card: plain Ed25519 only (no pre-hashing, no context)");
		return CKR_MECHANISM_PARAM_INVALID;
	}
	return CKR_OK;
}

/* The mechanisms a card runs itself, for op, with the key type each needs. */
static CK_RV card_mechanism_key(enum token_op op, const CK_MECHANISM *mech, CK_KEY_TYPE *want)
{
	if (op != TOKEN_OP_SIGN && op != TOKEN_OP_DECRYPT)
		return CKR_MECHANISM_INVALID; /* verification, encryption and digests run on the host */
	switch (mech->mechanism) {
	case CKM_RSA_X_509:
		*want = CKK_RSA;
		break;
	case CKM_ECDSA:
		*want = CKK_EC;
		break;
	case CKM_EDDSA:
		*want = CKK_EC_EDWARDS;
		break;
	default:
		return CKR_MECHANISM_INVALID;
	}
	if (op == TOKEN_OP_DECRYPT && *want != CKK_RSA)
		return CKR_MECHANISM_INVALID;
	if (mech->mechanism == CKM_EDDSA)
		return eddsa_params(mech);
	return mech->pParameter == NULL && mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
}

/* The size of the result and the curve of a key, from its public key. */
static CK_RV key_shape(const struct card_key *k, size_t *out_len, enum cr_curve *curve)
{
	struct cr_pubkey pk;

	if (cr_spki_parse(k->spki.data, k->spki.len, &pk) != 0)
		return CKR_KEY_HANDLE_INVALID;
	*curve = pk.curve;
	*out_len = pk.type == CR_KEY_RSA ? pk.modulus.len : 2 * cr_curve_field_size(pk.curve);
	cr_pubkey_clear(&pk);
	return *out_len > 0 && *out_len <= MAX_BLOCK ? CKR_OK : CKR_KEY_SIZE_RANGE;
}

static CK_RV card_op_init(struct token *t, void *ss, enum token_op op, const CK_MECHANISM *mech, token_ref key)
{
	struct card_sess *s = ss;
	struct card_op *p = &s->ops[op];
	CK_ATTRIBUTE_TYPE use = op == TOKEN_OP_SIGN ? CKA_SIGN : CKA_DECRYPT;
	CK_KEY_TYPE want = 0;
	struct card_obj *o = NULL;
	struct card_key *k = NULL;
	bool always = false;
	CK_RV rv = card_mechanism_key(op, mech, &want);

	if (rv != CKR_OK)
		return rv;
	rv = enter(t, s);
	if (rv != CKR_OK)
		return rv;
	if (p->active)
		return leave(t, CKR_OPERATION_ACTIVE);
	rv = usable_key(t, s, key, use, want, &o, &k);
	if (rv == CKR_OK)
		rv = key_shape(k, &p->out_len, &p->curve);
	if (rv == CKR_OK)
		rv = card_ready(t);
	/*
	 * A key listed from the cache, or from its certificate, is checked on
	 * the card once per login, here and not in C_Sign.
	 */
	if (rv == CKR_OK)
		rv = card_confirm_key(t, k);
	if (rv == CKR_OK && (o = visible_object(t, s, key)) == NULL) /* the objects may have been made again */
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		return leave(t, rv);
	attrs_get_bool(&o->attrs, CKA_ALWAYS_AUTHENTICATE, &always);
	*p = (struct card_op){ true, mech->mechanism, key, k->slot, k->alg, p->out_len, p->curve, always, NULL, 0 };
	return leave(t, CKR_OK);
}

static void end_op(struct token *t, struct card_sess *s, enum token_op op)
{
	if (t->ctx_session == s->id)
		card_drop_context_auth(t);
	free(s->ops[op].message);
	memset(&s->ops[op], 0, sizeof(s->ops[op]));
}

/* The card's answer to a private-key command, as a PKCS#11 result. */
static CK_RV key_failure(struct token *t, const struct card_key *k, const struct card_op *p, int rc)
{
	CK_RV rv;

	if (card_left_or_reset(t, rc, &rv))
		return rv;
	switch (rc) {
	case PIV_E_SECURITY:
		if (p->needs_context)
			return CKR_USER_NOT_LOGGED_IN;
		if (k->touch_policy == PIV_TOUCH_POLICY_ALWAYS || k->touch_policy == PIV_TOUCH_POLICY_CACHED) {
			log_msg(LL_WARNING, "the card in %s was not touched: key %02X not used", t->reader, k->slot);
			return CKR_FUNCTION_REJECTED;
		}
		log_msg(LL_INFO, "the card in %s no longer holds the login", t->reader);
		card_login_lost(t);
		return CKR_USER_NOT_LOGGED_IN;
	case PIV_E_NOT_FOUND:
		log_msg(LL_WARNING, "the key in slot %02X is no longer on the card in %s", k->slot, t->reader);
		card_token_replaced(t);
		return CKR_KEY_HANDLE_INVALID;
	default:
		log_msg(LL_WARNING, "the card in %s failed with key %02X: %s", t->reader, k->slot, piv_rc_name(rc));
		return card_rv(rc);
	}
}

static CK_RV bad_answer(const struct token *t, const struct card_key *k, const char *what)
{
	log_msg(LL_WARNING, "the card in %s gave %s with key %02X: refused", t->reader, what, k->slot);
	return CKR_DEVICE_ERROR;
}

/* Raw RSA with the card's key; the result must map back to the input under the listed public key. */
static CK_RV rsa_raw(struct token *t, const struct card_key *k, const struct card_op *p, enum token_op op,
		     const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *result)
{
	uint8_t block[MAX_BLOCK], back[MAX_BLOCK];
	size_t len = 0, back_len = sizeof(back);
	int rc;

	if (op == TOKEN_OP_DECRYPT && in_len != p->out_len)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if (in_len > p->out_len)
		return CKR_DATA_LEN_RANGE;
	memset(block, 0, p->out_len - in_len);
	memcpy(block + p->out_len - in_len, in, in_len);
	/* The public operation refuses a block not below the modulus, as the card would. */
	if (cr_rsa_public_raw(k->spki.data, k->spki.len, block, p->out_len, back, &back_len) != 0)
		return op == TOKEN_OP_DECRYPT ? CKR_ENCRYPTED_DATA_INVALID : CKR_DATA_INVALID;
	rc = op == TOKEN_OP_DECRYPT ? piv_decrypt(&t->piv, p->alg, p->slot, block, p->out_len, result, MAX_RESULT, &len)
				    : piv_sign(&t->piv, p->alg, p->slot, block, p->out_len, result, MAX_RESULT, &len);
	if (rc != PIV_OK)
		return key_failure(t, k, p, rc);
	back_len = sizeof(back);
	if (len != p->out_len ||
	    cr_rsa_public_raw(k->spki.data, k->spki.len, result, len, back, &back_len) != 0 ||
	    back_len != p->out_len ||
	    memcmp(back, op == TOKEN_OP_DECRYPT ? in : block, p->out_len) != 0)
		return bad_answer(t, k, op == TOKEN_OP_DECRYPT ? "a wrong decryption" : "a wrong signature");
	return CKR_OK;
}

/* ECDSA on the card over the hash; the card's DER signature comes back as r||s, verified first. */
static CK_RV ecdsa(struct token *t, const struct card_key *k, const struct card_op *p, const CK_BYTE *in,
		   CK_ULONG in_len, CK_BYTE *result)
{
	uint8_t block[CR_EC_MAX_FIELD_SIZE], der[MAX_RESULT];
	size_t field = p->out_len / 2, len = 0, raw_len = p->out_len;
	int rc;

	if (in_len == 0 || cr_ecdsa_hash_block(p->curve, in, in_len, block) != 0)
		return CKR_DATA_LEN_RANGE;
	rc = piv_sign(&t->piv, p->alg, p->slot, block, field, der, sizeof(der), &len);
	if (rc != PIV_OK)
		return key_failure(t, k, p, rc);
	if (cr_ecdsa_der_to_raw(der, len, field, result, &raw_len) != 0 ||
	    cr_verify_ecdsa(k->spki.data, k->spki.len, in, in_len, result, raw_len) != 0)
		return bad_answer(t, k, "a wrong signature");
	return CKR_OK;
}

/*
 * Ed25519 on the card over the whole message, as pure EdDSA needs it; the
 * signature must verify with the listed key. The card takes the message in
 * one GENERAL AUTHENTICATE, so it cannot be longer than that command allows.
 */
static CK_RV eddsa(struct token *t, const struct card_key *k, const struct card_op *p, const CK_BYTE *in,
		   CK_ULONG in_len, CK_BYTE *result)
{
	size_t len = 0;
	int rc;

	if (in_len == 0 || in_len > CARD_EDDSA_MAX_MESSAGE) {
		log_msg(LL_WARNING, "Ed25519 on the card in %s: a message of %lu bytes, the card signs 1 to %lu",
			t->reader, (unsigned long)in_len, (unsigned long)CARD_EDDSA_MAX_MESSAGE);
		return CKR_DATA_LEN_RANGE;
	}
	rc = piv_sign(&t->piv, p->alg, p->slot, in, in_len, result, MAX_RESULT, &len);
	if (rc != PIV_OK)
		return key_failure(t, k, p, rc);
	if (len != p->out_len || cr_verify_ed25519(k->spki.data, k->spki.len, in, in_len, result, len) != 0)
		return bad_answer(t, k, "a wrong signature");
	return CKR_OK;
}

/* The card's own operation for the mechanism an operation was started with. */
static CK_RV card_operation(struct token *t, const struct card_key *k, const struct card_op *p, enum token_op op,
			    const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *result)
{
	switch (p->mech) {
	case CKM_ECDSA: return ecdsa(t, k, p, in, in_len, result);
	case CKM_EDDSA: return eddsa(t, k, p, in, in_len, result);
	default: return rsa_raw(t, k, p, op, in, in_len, result);
	}
}

/* PKCS#11: only a length query or a short buffer keep an operation going. */
static bool keeps_operation(CK_RV rv, const CK_BYTE *out)
{
	return rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL);
}

static CK_RV run_op(struct token *t, struct card_sess *s, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
		    CK_BYTE *out, CK_ULONG *out_len)
{
	struct card_op *p = &s->ops[op];
	struct card_key *k = card_key_of_slot(t, p->slot);
	uint8_t result[MAX_RESULT];
	CK_RV rv;

	if (out == NULL) {
		*out_len = p->out_len;
		return CKR_OK;
	}
	if (*out_len < p->out_len) {
		*out_len = p->out_len;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (k == NULL || !k->has_key || card_obj_find(t, p->key) == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if (t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (p->needs_context && t->ctx_session != s->id)
		return CKR_USER_NOT_LOGGED_IN;
	/* Another session's PIN-always VERIFY would not survive this command anyway. */
	if (t->ctx_session != s->id)
		card_drop_context_auth(t);
	rv = card_ready(t);
	if (rv != CKR_OK)
		return rv;
	rv = card_operation(t, k, p, op, in, in_len, result);
	if (rv == CKR_OK) {
		memcpy(out, result, p->out_len);
		*out_len = p->out_len;
	}
	cr_wipe(result, sizeof(result));
	return rv;
}

static CK_RV card_op_oneshot(struct token *t, void *ss, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
			     CK_BYTE *out, CK_ULONG *out_len)
{
	struct card_sess *s = ss;
	CK_RV rv = enter(t, s);

	if (rv != CKR_OK)
		return rv;
	if (!s->ops[op].active)
		return leave(t, CKR_OPERATION_NOT_INITIALIZED);
	rv = run_op(t, s, op, in, in_len, out, out_len);
	if (!keeps_operation(rv, out))
		end_op(t, s, op);
	return leave(t, rv);
}

/*
 * The card's mechanisms are single-part; the hash-and-sign ones are the
 * core's. Pure Ed25519 hashes the message twice, so the card must see all
 * of it at once: its parts are kept here and signed whole at C_SignFinal,
 * up to what the card takes in one command.
 */
static CK_RV keep_part(struct token *t, struct card_op *p, const CK_BYTE *in, CK_ULONG in_len)
{
	uint8_t *grown;

	if (in_len > PIV_SIGN_INPUT_MAX - p->message_len) {
		log_msg(LL_WARNING, "Ed25519 on the card in %s: a message of more than %lu bytes, the card signs 1 to %lu",
			t->reader, (unsigned long)(p->message_len + (size_t)in_len) - 1, (unsigned long)PIV_SIGN_INPUT_MAX);
		return CKR_DATA_LEN_RANGE;
	}
	if (in_len == 0)
		return CKR_OK;
	grown = realloc(p->message, p->message_len + in_len);
	if (grown == NULL)
		return CKR_HOST_MEMORY;
	memcpy(grown + p->message_len, in, in_len);
	p->message = grown;
	p->message_len += in_len;
	return CKR_OK;
}

static bool in_parts(const struct card_op *p, enum token_op op)
{
	return p->active && p->mech == CKM_EDDSA && op == TOKEN_OP_SIGN;
}

static CK_RV card_op_update(struct token *t, void *ss, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
			    CK_BYTE *out, CK_ULONG *out_len)
{
	struct card_sess *s = ss;
	CK_RV rv = enter(t, s);

	(void)out;
	(void)out_len;
	if (rv != CKR_OK)
		return rv;
	if (in_parts(&s->ops[op], op)) {
		rv = keep_part(t, &s->ops[op], in, in_len);
		if (rv != CKR_OK)
			end_op(t, s, op);
		return leave(t, rv);
	}
	rv = s->ops[op].active ? CKR_FUNCTION_NOT_SUPPORTED : CKR_OPERATION_NOT_INITIALIZED;
	end_op(t, s, op);
	return leave(t, rv);
}

static CK_RV card_op_final(struct token *t, void *ss, enum token_op op, CK_BYTE *out, CK_ULONG *out_len)
{
	struct card_sess *s = ss;
	struct card_op *p = &s->ops[op];
	CK_RV rv = enter(t, s);

	if (rv != CKR_OK)
		return rv;
	if (!in_parts(p, op)) {
		rv = p->active ? CKR_FUNCTION_NOT_SUPPORTED : CKR_OPERATION_NOT_INITIALIZED;
		end_op(t, s, op);
		return leave(t, rv);
	}
	rv = run_op(t, s, op, p->message, p->message_len, out, out_len);
	if (!keeps_operation(rv, out))
		end_op(t, s, op);
	return leave(t, rv);
}

static void card_op_abort(struct token *t, void *ss, enum token_op op)
{
	if (enter(t, ss) != CKR_OK)
		return;
	end_op(t, ss, op);
	card_unlock(t);
}

/* ---- ECDH ---- */

/*
 * The peer's public key as the card takes it: for P-256 and P-384 the
 * point 04||X||Y, for X25519 the 32-byte key (PKCS#11 3.0's form), each
 * raw or in the DER OCTET STRING some callers wrap it in.
 */
static bool peer_point(const CK_ECDH1_DERIVE_PARAMS *p, enum cr_curve curve, const CK_BYTE **pt, size_t *len)
{
	bool montgomery = curve == CR_CURVE_X25519;
	size_t field = cr_curve_field_size(curve), want = montgomery ? field : 1 + 2 * field;
	const CK_BYTE *d = p->pPublicData;
	CK_ULONG n = p->ulPublicDataLen;

	*len = want;
	if (n == want && (montgomery || d[0] == 0x04)) {
		*pt = d;
		return true;
	}
	if (n == want + 2 && d[0] == 0x04 && d[1] == want && (montgomery || d[2] == 0x04)) {
		*pt = d + 2;
		return true;
	}
	return false;
}

/* The key type of a private key, for the checks of usable_key(); 0 when the object has none. */
/* The only input of a key agreement the caller chose is the peer's key. */
static CK_RV peer_refused(const struct token *t, const struct card_key *k)
{
	log_msg(LL_WARNING, "key %02X of the card in %s cannot agree a secret with that peer key (not on the curve, "
		"or of small order)", k->slot, t->reader);
	return CKR_MECHANISM_PARAM_INVALID;
}

/*
 * An X25519 peer key of small order makes every secret zero (RFC 7748,
 * section 6.1): such a "secret" is known to all, so it is refused.
 */
static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static CK_KEY_TYPE key_type_of_object(struct token *t, const struct card_sess *s, token_ref ref)
{
	struct card_obj *o = visible_object(t, s, ref);
	CK_ULONG type = 0;

	return o != NULL && attrs_get_ulong(&o->attrs, CKA_KEY_TYPE, &type) ? type : 0;
}

/* What signet says of a derived secret, over what the caller's template asked. */
static CK_RV secret_attributes(struct attr_list *l, CK_ULONG type, bool priv, bool sensitive, bool extractable,
			       const uint8_t *secret, CK_ULONG len)
{
	const struct { CK_ATTRIBUTE_TYPE type; bool value; } flags[] = {
		{ CKA_TOKEN, false }, { CKA_PRIVATE, priv }, { CKA_SENSITIVE, sensitive },
		{ CKA_ALWAYS_SENSITIVE, sensitive }, { CKA_EXTRACTABLE, extractable },
		{ CKA_NEVER_EXTRACTABLE, !extractable }, { CKA_LOCAL, false },
	};
	CK_RV rv = attrs_set_ulong(l, CKA_CLASS, CKO_SECRET_KEY);

	if (rv == CKR_OK)
		rv = attrs_set_ulong(l, CKA_KEY_TYPE, type);
	for (size_t i = 0; rv == CKR_OK && i < sizeof(flags) / sizeof(flags[0]); i++)
		rv = attrs_set_bool(l, flags[i].type, flags[i].value);
	if (rv == CKR_OK)
		rv = attrs_set_ulong(l, CKA_VALUE_LEN, len);
	if (rv == CKR_OK)
		rv = attrs_set(l, CKA_VALUE, secret, len);
	return rv;
}

/*
 * The derived secret as a session object with the caller's template: the
 * result of an operation, the caller's to choose (pkcs11-tool --derive asks
 * for it extractable). Unless asked otherwise it is sensitive and stays here.
 */
static CK_RV store_secret(struct token *t, struct card_sess *s, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
			  const uint8_t *secret, size_t len, token_ref *out)
{
	struct attr_list l;
	CK_ULONG cls = CKO_SECRET_KEY, type = CKK_GENERIC_SECRET, value_len = len;
	bool on_token = false, sensitive = true, extractable = false, priv = true;
	CK_RV rv = attrs_from_template(&l, tmpl, count);

	if (rv != CKR_OK)
		return rv;
	if (attrs_find(&l, CKA_VALUE) != NULL)
		rv = CKR_ATTRIBUTE_READ_ONLY;
	else if ((attrs_find(&l, CKA_CLASS) && (!attrs_get_ulong(&l, CKA_CLASS, &cls) || cls != CKO_SECRET_KEY)) ||
		 (attrs_get_bool(&l, CKA_TOKEN, &on_token) && on_token))
		rv = CKR_TEMPLATE_INCONSISTENT; /* a card keeps no secret keys: session objects only */
	else if (attrs_find(&l, CKA_VALUE_LEN) && (!attrs_get_ulong(&l, CKA_VALUE_LEN, &value_len) ||
						   value_len == 0 || value_len > len))
		rv = CKR_TEMPLATE_INCONSISTENT;
	attrs_get_ulong(&l, CKA_KEY_TYPE, &type);
	attrs_get_bool(&l, CKA_SENSITIVE, &sensitive);
	attrs_get_bool(&l, CKA_EXTRACTABLE, &extractable);
	attrs_get_bool(&l, CKA_PRIVATE, &priv);
	if (rv == CKR_OK)
		rv = secret_attributes(&l, type, priv, sensitive, extractable, secret, value_len);
	if (rv != CKR_OK) {
		attrs_free(&l);
		return rv;
	}
	*out = FIRST_SESSION_REF + t->next_ref++;
	return card_obj_add(t, *out, 0, s->id, &l);
}

static CK_RV card_derive_key(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref base,
			     const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *key)
{
	struct card_sess *s = ss;
	const CK_ECDH1_DERIVE_PARAMS *p = mech->pParameter;
	struct card_op shape = { 0 };
	struct card_obj *o = NULL;
	struct card_key *k = NULL;
	uint8_t secret[CR_EC_MAX_FIELD_SIZE + 8];
	const CK_BYTE *point = NULL;
	size_t len = 0, point_len = 0;
	CK_KEY_TYPE type;
	int rc;
	CK_RV rv;

	if (mech->mechanism != CKM_ECDH1_DERIVE)
		return CKR_MECHANISM_INVALID;
	if (p == NULL || mech->ulParameterLen != sizeof(*p) || p->kdf != CKD_NULL || p->ulSharedDataLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	rv = enter(t, s);
	if (rv != CKR_OK)
		return rv;
	/* ECDH1 works on both kinds of curve: a P-256/P-384 key (CKK_EC) or an X25519 key. */
	type = key_type_of_object(t, s, base) == CKK_EC_MONTGOMERY ? CKK_EC_MONTGOMERY : CKK_EC;
	rv = usable_key(t, s, base, CKA_DERIVE, type, &o, &k);
	if (rv == CKR_OK)
		rv = key_shape(k, &shape.out_len, &shape.curve);
	if (rv == CKR_OK && !peer_point(p, shape.curve, &point, &point_len))
		rv = CKR_MECHANISM_PARAM_INVALID;
	if (rv == CKR_OK)
		rv = card_ready(t);
	if (rv == CKR_OK)
		rv = card_confirm_key(t, k);
	if (rv != CKR_OK)
		return leave(t, rv);
	card_drop_context_auth(t);
	shape.slot = k->slot;
	rc = piv_ecdh(&t->piv, k->alg, k->slot, point, point_len, secret, sizeof(secret), &len);
	if (rc == PIV_E_BAD_DATA)
		rv = peer_refused(t, k);
	else if (rc != PIV_OK)
		rv = key_failure(t, k, &shape, rc);
	else if (len != shape.out_len / 2)
		rv = bad_answer(t, k, "a shared secret of the wrong size");
	else if (all_zero(secret, len))
		rv = peer_refused(t, k);
	else
		rv = store_secret(t, s, tmpl, count, secret, len, key);
	cr_wipe(secret, sizeof(secret));
	return leave(t, rv);
}

const struct token_ops card_token_ops = {
	.kind = "card",
	.slot_info = card_slot_info,
	.token_info = card_token_info,
	.mechanism_list = card_mechanism_list,
	.mechanism_info = card_mechanism_info,
	.pin_tries = card_pin_tries,

	.init_token = card_init_token,
	.set_retries = card_set_retries,
	.session_open = card_session_open,
	.session_close = card_session_close,
	.login = card_login,
	.logout = card_logout,
	.init_pin = card_init_pin,
	.set_pin = card_set_pin,
	.find = card_find,
	.get_attributes = card_get_attributes,
	.create_object = card_create_object,
	.destroy_object = card_destroy_object,
	.generate_key_pair = card_generate_key_pair,
	.derive_key = card_derive_key,
	.op_init = card_op_init,
	.op_oneshot = card_op_oneshot,
	.op_update = card_op_update,
	.op_final = card_op_final,
	.op_abort = card_op_abort,
};
