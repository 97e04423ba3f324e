#include "pkcs11/card_pin.h"

#include <stdio.h>
#include <string.h>

#include "pkcs11/card.h"
#include "pkcs11/log.h"

/* PIV carries 6 to 8 characters for the PIN and the PUK (SP 800-73-4 part 2, 2.4.3). */
#define PIV_VALUE_MIN 6
#define PIV_VALUE_MAX 8

/* ---- what the policy asks of the card ---- */

static CK_RV card_serial(void *ctx, CK_UTF8CHAR serial[16])
{
	const struct token *t = ctx;
	char name[17];

	/* Nothing is counted for a card not identified yet, nor for one without a serial. */
	if (t->serial_text[0] == '\0')
		return CKR_USER_PIN_NOT_INITIALIZED;
	/* "card-" keeps a card's counters apart from any SoftHSM serial (16 hex digits). */
	snprintf(name, sizeof(name), "card-%.10s", t->serial_text);
	memset(serial, ' ', 16);
	memcpy(serial, name, strlen(name));
	return CKR_OK;
}

/* The counter as last read from the card: the reading is kept fresh by card_io.c and card_pin_settle. */
static CK_RV card_counter(void *ctx, enum pin_who who, struct pin_counter *out)
{
	const struct card_pin_counter *c = &((const struct token *)ctx)->pin.counter[who];

	/* Not read yet (a PUK on a card without GET METADATA): signet's store counts alone. */
	if (c->left < 0) {
		*out = (struct pin_counter){ 0, 0, c->is_default };
		return CKR_OK;
	}
	*out = (struct pin_counter){ (unsigned)c->left, (unsigned)(c->max > c->left ? c->max : c->left),
				     c->is_default };
	return CKR_OK;
}

CK_RV card_pin_init(struct token *t)
{
	const struct pin_token tok = { "card", t, card_serial, card_counter };
	char name[64];

	memset(&t->pin, 0, sizeof(t->pin));
	card_pin_forget(&t->pin);
	snprintf(name, sizeof(name), "card in %s", t->reader);
	return pin_policy_new(t->conf, name, &tok, &t->pin.policy);
}

void card_pin_free(struct card_pin *p)
{
	pin_policy_free(p->policy);
	memset(p, 0, sizeof(*p));
}

void card_pin_forget(struct card_pin *p)
{
	for (int i = 0; i < 2; i++)
		p->counter[i] = (struct card_pin_counter){ -1, -1, false };
	p->changed = true;
	if (!p->sending)
		card_pin_deliver(p);
}

void card_pin_deliver(struct card_pin *p)
{
	if (!p->changed || p->sending || p->policy == NULL)
		return;
	p->changed = false;
	pin_policy_token_changed(p->policy);
}

void card_pin_note(struct card_pin *p, enum pin_who who, int left, int max, int is_default)
{
	struct card_pin_counter *c = &p->counter[who];

	if (left >= 0)
		c->left = left;
	if (max >= 0)
		c->max = max;
	/* A card that shows more tries left than we knew it allows has told us its real limit. */
	if (c->left > c->max)
		c->max = c->left;
	if (is_default >= 0)
		c->is_default = is_default != 0;
}

bool card_pin_known(const struct card_pin *p, enum pin_who who)
{
	return p->counter[who].left >= 0;
}

void card_pin_settle(struct card_pin *p, enum pin_who who, CK_RV rv, int tries)
{
	struct card_pin_counter *c = &p->counter[who];

	if (rv == CKR_OK && c->max > 0)
		c->left = c->max;
	else if (rv == CKR_PIN_INCORRECT && tries >= 0)
		card_pin_note(p, who, tries, -1, -1);
	else if (rv == CKR_PIN_INCORRECT && c->left > 0)
		c->left--;
	else if (rv == CKR_PIN_LOCKED)
		c->left = 0;
}

/* ---- lengths and flags ---- */

CK_RV card_pin_check_length(CK_ULONG len, const char *what)
{
	if (len >= PIV_VALUE_MIN && len <= PIV_VALUE_MAX)
		return CKR_OK;
	log_msg(LL_WARNING, "%s of length %lu refused: the card takes %d to %d characters; not sent", what,
		(unsigned long)len, PIV_VALUE_MIN, PIV_VALUE_MAX);
	return CKR_PIN_LEN_RANGE;
}

void card_pin_lengths(const struct config *conf, CK_ULONG *min, CK_ULONG *max)
{
	*min = conf->min_pin_length > PIV_VALUE_MIN ? conf->min_pin_length : PIV_VALUE_MIN;
	*max = conf->max_pin_length < PIV_VALUE_MAX ? conf->max_pin_length : PIV_VALUE_MAX;
}

CK_RV card_pin_token_info(struct card_pin *p, const struct config *conf, CK_TOKEN_INFO *info)
{
	CK_RV rv = pin_policy_token_info(p->policy, info);

	card_pin_lengths(conf, &info->ulMinPinLen, &info->ulMaxPinLen);
	return rv;
}

bool card_pin_so_locked(struct card_pin *p)
{
	CK_TOKEN_INFO info;

	memset(&info, 0, sizeof(info));
	return pin_policy_token_info(p->policy, &info) == CKR_OK && (info.flags & CKF_SO_PIN_LOCKED) != 0;
}
