#include "apdu/pcsc.h"

#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#include "crypto/wipe.h"

/* The pseudo-reader through which pcsc-lite reports reader list changes. */
#define PNP_READER "\\\\?PnP?\\Notification"
#define PROTOCOLS (SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
#define LIST_ATTEMPTS 4

struct pcsc_ctx {
	SCARDCONTEXT sc;
	bool established;
	/* What pcsc_poll_changes() saw last: the readers, and a state array
	 * whose first entry is the PnP pseudo-reader. */
	struct pcsc_readers known;
	SCARD_READERSTATE *states;
	bool primed;
};

enum card_need {
	NEED_NOTHING,
	NEED_RECONNECT,   /* the handle survives; SCardReconnect restores it */
	NEED_REESTABLISH, /* the service connection is gone: new context, new handle */
};

struct pcsc_card {
	SCARDCONTEXT sc;
	bool established;
	SCARDHANDLE h;
	bool connected;
	DWORD proto;
	char *reader;
	int depth;   /* pcsc_begin() nesting */
	bool locked; /* a service transaction is held */
	enum card_need need;
	unsigned long session; /* counts the connections restored after a loss of state */
	long last_error;
};

const char *pcsc_error_name(long err)
{
	return pcsc_stringify_error((LONG)err);
}

static bool service_lost(LONG e)
{
	return e == SCARD_E_NO_SERVICE || e == SCARD_E_SERVICE_STOPPED ||
	       e == SCARD_F_COMM_ERROR || e == SCARD_E_INVALID_HANDLE;
}

static bool card_gone(LONG e)
{
	return e == SCARD_W_REMOVED_CARD || e == SCARD_E_NO_SMARTCARD;
}

static int map_error(LONG e)
{
	if (e == SCARD_S_SUCCESS)
		return APDU_OK;
	if (e == SCARD_W_RESET_CARD)
		return APDU_E_CARD_RESET;
	if (card_gone(e))
		return APDU_E_CARD_REMOVED;
	if (service_lost(e))
		return APDU_E_NO_SERVICE;
	if (e == SCARD_E_UNKNOWN_READER || e == SCARD_E_READER_UNAVAILABLE ||
	    e == SCARD_E_NO_READERS_AVAILABLE)
		return APDU_E_NO_READER;
	if (e == SCARD_E_TIMEOUT)
		return APDU_E_TIMEOUT;
	if (e == SCARD_E_NO_MEMORY)
		return APDU_E_NOMEM;
	return APDU_E_TRANSPORT;
}

/* ---- reader lists ---- */

void pcsc_readers_free(struct pcsc_readers *r)
{
	size_t i;

	for (i = 0; i < r->count; i++)
		free(r->names[i]);
	free(r->names);
	r->names = NULL;
	r->count = 0;
}

/* Splits a multi-string (names ended by NUL, the list by an empty name)
 * without trusting it to be terminated within n bytes. */
static int split_multistring(const char *ms, size_t n, struct pcsc_readers *out)
{
	size_t i = 0, cap = 0;

	out->names = NULL;
	out->count = 0;
	while (i < n && ms[i] != '\0') {
		const char *end = memchr(ms + i, '\0', n - i);
		size_t len;
		char *name;

		if (end == NULL)
			break;
		len = (size_t)(end - (ms + i));
		if (out->count == cap) {
			char **grown = realloc(out->names, (cap + 8) * sizeof(*grown));

			if (grown == NULL)
				goto nomem;
			out->names = grown;
			cap += 8;
		}
		name = strndup(ms + i, len);
		if (name == NULL)
			goto nomem;
		out->names[out->count++] = name;
		i += len + 1;
	}
	return APDU_OK;
nomem:
	pcsc_readers_free(out);
	return APDU_E_NOMEM;
}

/* The size can change between the two calls when a reader comes or goes. */
static LONG list_readers_raw(SCARDCONTEXT sc, struct pcsc_readers *out, int *rc)
{
	LONG e = SCARD_E_INSUFFICIENT_BUFFER;
	int attempt;

	*rc = APDU_OK;
	out->names = NULL;
	out->count = 0;
	for (attempt = 0; attempt < LIST_ATTEMPTS && e == SCARD_E_INSUFFICIENT_BUFFER; attempt++) {
		DWORD len = 0;
		char *ms;

		e = SCardListReaders(sc, NULL, NULL, &len);
		if (e != SCARD_S_SUCCESS)
			break;
		ms = malloc(len > 0 ? len : 1);
		if (ms == NULL) {
			*rc = APDU_E_NOMEM;
			return SCARD_S_SUCCESS;
		}
		e = SCardListReaders(sc, NULL, ms, &len);
		if (e == SCARD_S_SUCCESS)
			*rc = split_multistring(ms, len, out);
		free(ms);
	}
	if (e == SCARD_E_NO_READERS_AVAILABLE)
		e = SCARD_S_SUCCESS;
	return e;
}

/* ---- the listing context ---- */

int pcsc_open(struct pcsc_ctx **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? APDU_E_NOMEM : APDU_OK;
}

static void ctx_forget_states(struct pcsc_ctx *ctx)
{
	pcsc_readers_free(&ctx->known);
	free(ctx->states);
	ctx->states = NULL;
	ctx->primed = false;
}

static void ctx_release(struct pcsc_ctx *ctx)
{
	if (ctx->established)
		SCardReleaseContext(ctx->sc);
	ctx->established = false;
	ctx_forget_states(ctx);
}

void pcsc_close(struct pcsc_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ctx_release(ctx);
	free(ctx);
}

static int ctx_ensure(struct pcsc_ctx *ctx)
{
	LONG e;

	if (ctx->established)
		return APDU_OK;
	e = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx->sc);
	if (e != SCARD_S_SUCCESS)
		return map_error(e);
	ctx->established = true;
	return APDU_OK;
}

/* A context made before the service restarted is dead; one fresh attempt. */
int pcsc_list_readers(struct pcsc_ctx *ctx, struct pcsc_readers *out)
{
	int rc, attempt;
	LONG e = SCARD_S_SUCCESS;

	out->names = NULL;
	out->count = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		rc = ctx_ensure(ctx);
		if (rc != APDU_OK)
			return rc;
		e = list_readers_raw(ctx->sc, out, &rc);
		if (!service_lost(e))
			break;
		ctx_release(ctx);
	}
	if (e != SCARD_S_SUCCESS)
		return map_error(e);
	return rc;
}

int pcsc_reader_status(struct pcsc_ctx *ctx, const char *reader, bool *present, unsigned *events)
{
	SCARD_READERSTATE rs;
	LONG e;
	int rc;

	rc = ctx_ensure(ctx);
	if (rc != APDU_OK)
		return rc;
	memset(&rs, 0, sizeof(rs));
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	e = SCardGetStatusChange(ctx->sc, 0, &rs, 1);
	if (service_lost(e))
		ctx_release(ctx);
	if (e != SCARD_S_SUCCESS)
		return map_error(e);
	if (rs.dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE))
		return APDU_E_NO_READER;
	*present = (rs.dwEventState & SCARD_STATE_PRESENT) != 0;
	*events = (unsigned)(rs.dwEventState >> 16);
	return APDU_OK;
}

static bool same_readers(const struct pcsc_readers *a, const struct pcsc_readers *b)
{
	size_t i;

	if (a->count != b->count)
		return false;
	for (i = 0; i < a->count; i++)
		if (strcmp(a->names[i], b->names[i]) != 0)
			return false;
	return true;
}

static size_t state_count(const struct pcsc_ctx *ctx)
{
	return ctx->known.count + 1;
}

/* Adopts the reader list and records the current state of every reader, so
 * the next wait reports only what changes after this point. */
static int ctx_prime(struct pcsc_ctx *ctx, struct pcsc_readers *readers)
{
	size_t i, n;
	LONG e;

	ctx_forget_states(ctx);
	ctx->known = *readers;
	readers->names = NULL;
	readers->count = 0;
	n = state_count(ctx);
	ctx->states = calloc(n, sizeof(*ctx->states));
	if (ctx->states == NULL)
		return APDU_E_NOMEM;
	ctx->states[0].szReader = PNP_READER;
	for (i = 1; i < n; i++)
		ctx->states[i].szReader = ctx->known.names[i - 1];
	for (i = 0; i < n; i++)
		ctx->states[i].dwCurrentState = SCARD_STATE_UNAWARE;
	e = SCardGetStatusChange(ctx->sc, 0, ctx->states, (DWORD)n);
	if (e != SCARD_S_SUCCESS && e != SCARD_E_TIMEOUT && e != SCARD_E_UNKNOWN_READER)
		return map_error(e);
	for (i = 0; i < n; i++)
		ctx->states[i].dwCurrentState = ctx->states[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	ctx->primed = true;
	return APDU_OK;
}

/* pcsc-lite 1.9.9 signals a reader list change only when it happens during
 * the wait, so the list is compared before and after every wait. */
static int readers_changed(struct pcsc_ctx *ctx, bool *changed)
{
	struct pcsc_readers now;
	int rc = pcsc_list_readers(ctx, &now);

	if (rc != APDU_OK)
		return rc;
	*changed = !ctx->primed || !same_readers(&now, &ctx->known);
	if (*changed)
		rc = ctx_prime(ctx, &now);
	pcsc_readers_free(&now);
	return rc;
}

static bool note_card_events(struct pcsc_ctx *ctx)
{
	size_t i, n = state_count(ctx);
	bool changed = false;

	for (i = 0; i < n; i++) {
		SCARD_READERSTATE *s = &ctx->states[i];

		if (s->dwEventState & SCARD_STATE_CHANGED)
			changed = true;
		s->dwCurrentState = s->dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
	return changed;
}

int pcsc_poll_changes(struct pcsc_ctx *ctx, unsigned timeout_ms)
{
	bool changed = false;
	LONG e;
	int rc;

	rc = readers_changed(ctx, &changed);
	if (rc != APDU_OK || changed)
		return rc != APDU_OK ? rc : 1;
	e = SCardGetStatusChange(ctx->sc, timeout_ms, ctx->states, (DWORD)state_count(ctx));
	if (service_lost(e)) {
		ctx_release(ctx);
		return APDU_E_NO_SERVICE;
	}
	if (e == SCARD_S_SUCCESS)
		changed = note_card_events(ctx);
	else if (e == SCARD_E_UNKNOWN_READER || e == SCARD_E_READER_UNAVAILABLE)
		changed = true;
	else if (e != SCARD_E_TIMEOUT && e != SCARD_E_CANCELLED)
		return map_error(e);
	if (changed) {
		/* Re-prime so the next wait starts from the new state. */
		ctx->primed = false;
	}
	rc = readers_changed(ctx, &changed);
	if (rc != APDU_OK)
		return rc;
	return changed ? 1 : 0;
}

/* ---- cards ---- */

static LONG card_attach(struct pcsc_card *card)
{
	LONG e;

	if (!card->established) {
		e = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &card->sc);
		if (e != SCARD_S_SUCCESS)
			return e;
		card->established = true;
	}
	e = SCardConnect(card->sc, card->reader, SCARD_SHARE_SHARED, PROTOCOLS, &card->h, &card->proto);
	if (e != SCARD_S_SUCCESS)
		return e;
	card->connected = true;
	return SCARD_S_SUCCESS;
}

static void card_detach(struct pcsc_card *card, DWORD disposition)
{
	if (card->connected) {
		if (card->locked)
			SCardEndTransaction(card->h, SCARD_LEAVE_CARD);
		SCardDisconnect(card->h, disposition);
	}
	if (card->established)
		SCardReleaseContext(card->sc);
	card->connected = false;
	card->established = false;
	card->locked = false;
}

int pcsc_connect(const char *reader, struct pcsc_card **out)
{
	struct pcsc_card *card;
	LONG e;

	*out = NULL;
	card = calloc(1, sizeof(*card));
	if (card == NULL)
		return APDU_E_NOMEM;
	card->reader = strdup(reader);
	if (card->reader == NULL) {
		free(card);
		return APDU_E_NOMEM;
	}
	e = card_attach(card);
	if (e != SCARD_S_SUCCESS) {
		card_detach(card, SCARD_LEAVE_CARD);
		free(card->reader);
		free(card);
		return map_error(e);
	}
	*out = card;
	return APDU_OK;
}

void pcsc_disconnect(struct pcsc_card *card, bool reset_card)
{
	if (card == NULL)
		return;
	card_detach(card, reset_card ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
	free(card->reader);
	free(card);
}

const char *pcsc_card_reader(const struct pcsc_card *card)
{
	return card->reader;
}

int pcsc_card_protocol(const struct pcsc_card *card)
{
	return card->proto == SCARD_PROTOCOL_T0 ? 0 : 1;
}

long pcsc_card_last_error(const struct pcsc_card *card)
{
	return card->last_error;
}

unsigned long pcsc_card_session(const struct pcsc_card *card)
{
	return card->session;
}

/* SCardReconnect keeps the handle; it works after a reset, not after the
 * service connection was lost. */
static bool card_reconnect(struct pcsc_card *card)
{
	LONG e;

	if (card->need != NEED_RECONNECT || !card->connected)
		return false;
	e = SCardReconnect(card->h, SCARD_SHARE_SHARED, PROTOCOLS, SCARD_LEAVE_CARD, &card->proto);
	if (e != SCARD_S_SUCCESS)
		card->last_error = e;
	return e == SCARD_S_SUCCESS;
}

/* Brings the connection back after a reset, a removal or a service restart.
 * The card's state is lost in every case: a new session, APDU_E_CARD_RESET. */
static int card_recover(struct pcsc_card *card)
{
	LONG e;

	card->locked = false;
	if (!card_reconnect(card)) {
		/* A fresh connection also finds a card inserted since the removal. */
		card_detach(card, SCARD_LEAVE_CARD);
		e = card_attach(card);
		if (e != SCARD_S_SUCCESS) {
			card->last_error = e;
			card->need = NEED_REESTABLISH;
			return map_error(e);
		}
	}
	card->need = NEED_NOTHING;
	card->session++;
	return APDU_E_CARD_RESET;
}

/* Turns a failed call into the caller's error, recovering the connection
 * right away when that is possible. */
static int card_failed(struct pcsc_card *card, LONG e)
{
	card->last_error = e;
	if (e == SCARD_W_RESET_CARD || card_gone(e))
		card->need = NEED_RECONNECT;
	else if (service_lost(e))
		card->need = NEED_REESTABLISH;
	else
		return map_error(e);
	return card_recover(card);
}

int pcsc_begin(struct pcsc_card *card)
{
	LONG e;

	if (card->need != NEED_NOTHING)
		return card_recover(card);
	if (card->depth > 0) {
		card->depth++;
		return APDU_OK;
	}
	e = SCardBeginTransaction(card->h);
	if (e != SCARD_S_SUCCESS)
		return card_failed(card, e);
	card->depth = 1;
	card->locked = true;
	return APDU_OK;
}

int pcsc_end(struct pcsc_card *card)
{
	LONG e;

	if (card->depth == 0)
		return APDU_E_INVALID;
	if (--card->depth > 0 || !card->locked)
		return APDU_OK;
	card->locked = false;
	e = SCardEndTransaction(card->h, SCARD_LEAVE_CARD);
	if (e == SCARD_S_SUCCESS)
		return APDU_OK;
	/* The next begin or transmit restores the connection. */
	card->last_error = e;
	if (e == SCARD_W_RESET_CARD || card_gone(e))
		card->need = NEED_RECONNECT;
	else if (service_lost(e))
		card->need = NEED_REESTABLISH;
	return map_error(e);
}

int pcsc_card_atr(struct pcsc_card *card, uint8_t *atr, size_t cap, size_t *len)
{
	uint8_t buf[MAX_ATR_SIZE];
	DWORD atr_len = sizeof(buf), reader_len = 0, state = 0, proto = 0;
	LONG e;

	if (card->need != NEED_NOTHING)
		return card_recover(card);
	e = SCardStatus(card->h, NULL, &reader_len, &state, &proto, buf, &atr_len);
	if (e != SCARD_S_SUCCESS)
		return card_failed(card, e);
	if (atr_len > cap || atr_len > sizeof(buf))
		return APDU_E_OVERFLOW;
	memcpy(atr, buf, atr_len);
	*len = atr_len;
	return APDU_OK;
}

int pcsc_transmit(struct pcsc_card *card, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *resp_len)
{
	const SCARD_IO_REQUEST *pci = card->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	DWORD rlen = (DWORD)(*resp_len > MAX_BUFFER_SIZE_EXTENDED ? MAX_BUFFER_SIZE_EXTENDED : *resp_len);
	size_t cap = *resp_len;
	LONG e;

	if (card->need != NEED_NOTHING)
		return card_recover(card);
	if (n > MAX_BUFFER_SIZE_EXTENDED)
		return APDU_E_INVALID;
	e = SCardTransmit(card->h, pci, cmd, (DWORD)n, NULL, resp, &rlen);
	if (e != SCARD_S_SUCCESS) {
		cr_wipe(resp, cap);
		*resp_len = 0;
		return card_failed(card, e);
	}
	*resp_len = rlen;
	return APDU_OK;
}

static int transport_transmit(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *resp_len)
{
	return pcsc_transmit(ctx, cmd, n, resp, resp_len);
}

static int transport_begin(void *ctx)
{
	return pcsc_begin(ctx);
}

static int transport_end(void *ctx)
{
	return pcsc_end(ctx);
}

static unsigned long transport_session(void *ctx)
{
	return pcsc_card_session(ctx);
}

const struct apdu_transport pcsc_transport = {
	.transmit = transport_transmit,
	.begin = transport_begin,
	.end = transport_end,
	.session = transport_session,
};
