/*
 * PC/SC readers as slots: one slot per reader whose name matches
 * [card] readers, in the service's order, kept for the reader's life in
 * the process (a reader unplugged and plugged in again gets its slot
 * back). Nothing here sends an APDU: readers and cards are watched through
 * the service's reader states, and only when the application asks
 * (C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_WaitForSlotEvent). No
 * thread is started.
 */
#include "pkcs11/card.h"

#include <fnmatch.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/lock.h"
#include "pkcs11/log.h"

static struct {
	const struct config *conf;
	void *lock;                /* guards the fields below; taken before any token's lock */
	struct pcsc_ctx *ctx;      /* lists the readers */
	struct token **tokens;
	size_t ntokens;
	pid_t pid;                 /* the process that opened the service connections */
	bool running;
	/* C_WaitForSlotEvent: one thread at a time watches through wait_ctx */
	atomic_bool accepting;     /* waits may start; cleared first by stop() */
	atomic_int waiters;        /* threads inside card_wait() */
	void *wait_lock;
	struct pcsc_ctx *wait_ctx; /* keeps the last state seen, so no change between two waits is missed */
} cd;

/* A waiting thread looks at the stop flag this often: C_Finalize ends a wait within it. */
#define WAIT_SLICE_MS 100

CK_RV card_lock(struct token *t)
{
	return lock_take(t->lock);
}

void card_unlock(struct token *t)
{
	unsigned ev = t->pending;
	CK_SLOT_ID id = t->slot;

	t->pending = CARD_EVENT_NONE;
	lock_give(t->lock);
	/* In this order: a card pulled and another put in within one call is two tokens. */
	if (ev & CARD_EVENT_GONE)
		slot_set_present(id, SLOT_GONE);
	if (ev & CARD_EVENT_EMPTY)
		slot_set_present(id, SLOT_EMPTY);
	if (ev & CARD_EVENT_PRESENT)
		slot_set_present(id, SLOT_TOKEN_PRESENT);
	if (ev & CARD_EVENT_CHANGED)
		slot_token_changed(id);
	if (ev & CARD_EVENT_LOGIN_LOST)
		slot_login_lost(id);
}

/* The token in the reader is not the one described any more: forget it and tell the core. */
static void token_ends(struct token *t, const char *why, bool present, unsigned event)
{
	log_msg(LL_INFO, "%s %s", why, t->reader);
	card_forget(t, false);
	t->present = present;
	t->generation++;
	t->pending |= event;
}

void card_watch_locked(struct token *t)
{
	bool present = false;
	unsigned events = 0;
	int rc;

	if (t->watch == NULL && pcsc_open(&t->watch) != APDU_OK)
		return;
	rc = pcsc_reader_status(t->watch, t->reader, &present, &events);
	if (rc == APDU_E_NO_READER) {
		if (!t->gone)
			token_ends(t, "reader went away:", false, CARD_EVENT_GONE);
		t->gone = true;
		return;
	}
	if (rc != APDU_OK)
		return; /* the service is away for a moment: keep what we know */
	if (t->gone) {
		t->gone = false;
		t->present = false;
		t->pending &= ~(unsigned)CARD_EVENT_GONE;
		if (!present)
			t->pending |= CARD_EVENT_EMPTY; /* the reader is listed again, without a card */
	}
	if (!present && t->present) {
		token_ends(t, "card removed from", false, CARD_EVENT_EMPTY);
	} else if (present && !t->present) {
		token_ends(t, "card inserted in", true, CARD_EVENT_PRESENT);
		t->events = events;
	} else if (present && events != t->events) {
		/* Pulled and put back between two looks: the event counter moved. A new token. */
		token_ends(t, "card replaced in", true, CARD_EVENT_CHANGED);
		t->events = events;
	}
}

static void free_token(struct token *t, bool quietly)
{
	if (t == NULL)
		return;
	card_forget(t, quietly);
	card_pin_free(&t->pin);
	if (!quietly)
		pcsc_close(t->watch);
	lock_free(t->lock);
	free(t->reader);
	free(t);
}

static struct token *new_token(const char *reader)
{
	struct token *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->reader = strdup(reader);
	t->conf = cd.conf;
	if (t->reader == NULL || card_pin_init(t) != CKR_OK || lock_new(&t->lock) != CKR_OK) {
		card_pin_free(&t->pin);
		free(t->reader);
		free(t);
		return NULL;
	}
	t->login = NO_CARD_LOGIN;
	t->metadata = -1;
	card_free_objects(t); /* lays out the key slots */
	return t;
}

static struct token *find_token_locked(const char *reader)
{
	for (size_t i = 0; i < cd.ntokens; i++)
		if (strcmp(cd.tokens[i]->reader, reader) == 0)
			return cd.tokens[i];
	return NULL;
}

/* A slot for a reader seen for the first time; the core shows it with a token until told otherwise. */
static void add_reader_locked(const char *reader)
{
	struct token *t, **grown;

	if (fnmatch(cd.conf->card_readers, reader, 0) != 0) {
		log_msg(LL_DEBUG, "reader %s left out by [card] readers", reader);
		return;
	}
	t = new_token(reader);
	grown = t != NULL ? realloc(cd.tokens, (cd.ntokens + 1) * sizeof(*grown)) : NULL;
	if (grown == NULL) {
		free_token(t, false);
		return;
	}
	cd.tokens = grown;
	if (slot_add(t, &card_token_ops, SLOT_RANGE_CARD, &t->slot) != CKR_OK) {
		log_msg(LL_WARNING, "no slot left for reader %s", reader);
		free_token(t, false);
		return;
	}
	t->present = true; /* as slot_add has it, until the first look */
	cd.tokens[cd.ntokens++] = t;
	log_msg(LL_DEBUG, "reader %s is slot %lu", reader, (unsigned long)t->slot);
}

/* The tokens as they are now, for looking at each without the driver's lock. */
static struct token **snapshot_locked(size_t *n)
{
	struct token **copy = malloc((cd.ntokens + 1) * sizeof(*copy));

	*n = 0;
	if (copy != NULL) {
		memcpy(copy, cd.tokens, cd.ntokens * sizeof(*copy));
		*n = cd.ntokens;
	}
	return copy;
}

static void refresh_readers(void)
{
	struct pcsc_readers list = { NULL, 0 };
	struct token **tokens;
	size_t n;
	int rc;

	if (!cd.running || slot_host_exiting() || lock_take(cd.lock) != CKR_OK)
		return;
	rc = pcsc_list_readers(cd.ctx, &list);
	if (rc != APDU_OK && rc != APDU_E_NO_SERVICE)
		log_msg(LL_DEBUG, "cannot list readers: %s", apdu_rc_name(rc));
	for (size_t i = 0; rc == APDU_OK && i < list.count; i++)
		if (find_token_locked(list.names[i]) == NULL)
			add_reader_locked(list.names[i]);
	pcsc_readers_free(&list);
	tokens = snapshot_locked(&n);
	lock_give(cd.lock);
	for (size_t i = 0; tokens != NULL && i < n; i++) {
		struct token *t = tokens[i];

		if (card_lock(t) != CKR_OK)
			continue;
		if (!t->watched) {
			/* The core shows a new slot with a token: a card there is news to nobody, its absence is. */
			t->watched = true;
			t->present = false;
			card_watch_locked(t);
			if (!t->present && !t->gone)
				t->pending |= CARD_EVENT_EMPTY;
		} else {
			card_watch_locked(t);
		}
		card_unlock(t);
	}
	free(tokens);
}

/*
 * Blocks until the service reports a reader or card change. The watching
 * context lives across waits: a change that happens while the caller looks
 * at the slots shows at the start of its next wait.
 */
static CK_RV card_wait(unsigned timeout_ms)
{
	CK_RV rv = CKR_NO_EVENT;
	unsigned waited = 0;
	int rc;

	if (cd.conf == NULL || !cd.conf->card_enable)
		return CKR_FUNCTION_NOT_SUPPORTED;
	atomic_fetch_add(&cd.waiters, 1);
	if (!atomic_load(&cd.accepting)) {
		atomic_fetch_sub(&cd.waiters, 1);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	if (lock_take(cd.wait_lock) != CKR_OK) {
		atomic_fetch_sub(&cd.waiters, 1);
		return CKR_GENERAL_ERROR;
	}
	if (cd.wait_ctx == NULL && pcsc_open(&cd.wait_ctx) != APDU_OK)
		rv = CKR_HOST_MEMORY;
	while (rv == CKR_NO_EVENT && waited < timeout_ms) {
		if (!atomic_load(&cd.accepting)) {
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
			break;
		}
		rc = pcsc_poll_changes(cd.wait_ctx, WAIT_SLICE_MS);
		if (rc == 1)
			rv = CKR_OK;
		else if (rc < 0)
			usleep(WAIT_SLICE_MS * 1000); /* no service yet: it may come */
		waited += WAIT_SLICE_MS;
	}
	lock_give(cd.wait_lock);
	atomic_fetch_sub(&cd.waiters, 1);
	return rv;
}

/* Ends the waits in progress (they look at the flag every slice) and waits for them to leave. */
static void stop_waits(bool quietly)
{
	atomic_store(&cd.accepting, false);
	for (int i = 0; i < 200 && atomic_load(&cd.waiters) > 0; i++)
		usleep(10000);
	if (!quietly)
		pcsc_close(cd.wait_ctx);
	cd.wait_ctx = NULL;
	lock_free(cd.wait_lock);
	cd.wait_lock = NULL;
}

static CK_RV card_start(const struct config *conf)
{
	CK_RV rv;

	cd.conf = conf;
	if (!conf->card_enable) {
		log_msg(LL_INFO, "card readers disabled by configuration");
		return CKR_OK;
	}
	rv = lock_new(&cd.lock);
	if (rv != CKR_OK)
		return rv;
	if (lock_new(&cd.wait_lock) != CKR_OK || pcsc_open(&cd.ctx) != APDU_OK) {
		lock_free(cd.wait_lock);
		lock_free(cd.lock);
		return CKR_HOST_MEMORY;
	}
	cd.pid = getpid();
	cd.running = true;
	atomic_store(&cd.accepting, true);
	refresh_readers();
	return CKR_OK;
}

static void card_stop(bool process_exiting)
{
	/* A forked child shares the parent's service connections: it must not close them. */
	bool quietly = process_exiting || getpid() != cd.pid;

	if (!cd.running)
		return;
	stop_waits(quietly);
	cd.running = false;
	for (size_t i = 0; i < cd.ntokens; i++)
		free_token(cd.tokens[i], quietly);
	free(cd.tokens);
	cd.tokens = NULL;
	cd.ntokens = 0;
	if (!quietly)
		pcsc_close(cd.ctx);
	cd.ctx = NULL;
	lock_free(cd.lock);
	cd.lock = NULL;
}

const struct token_driver card_driver = {
	.name = "PC/SC card",
	.start = card_start,
	.refresh = refresh_readers,
	.stop = card_stop,
	.wait = card_wait,
};
