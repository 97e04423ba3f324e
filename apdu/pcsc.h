/* PC/SC (pcsc-lite) access: reader list, card connections, transactions,
 * recovery after card resets and service restarts, and reader/card change
 * polling. This is the only part of the module that speaks PC/SC; it
 * returns enum apdu_rc and plugs into the framing layer through
 * pcsc_transport.
 *
 * Nothing here starts a thread: pcsc_poll_changes() waits only as long as
 * its caller allows. Objects are not locked internally; a caller that
 * shares one between threads serialises access itself. */
#ifndef SIGNET_APDU_PCSC_H
#define SIGNET_APDU_PCSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"

struct pcsc_ctx;  /* the service connection used to list and watch readers */
struct pcsc_card; /* one connected card, with its own service connection */

struct pcsc_readers {
	char **names;
	size_t count;
};

/* Never fails for want of a running service: it is contacted on first use. */
int pcsc_open(struct pcsc_ctx **out);
void pcsc_close(struct pcsc_ctx *ctx);

/* Current readers, in the service's order; none is an empty list (APDU_OK). */
int pcsc_list_readers(struct pcsc_ctx *ctx, struct pcsc_readers *out);
void pcsc_readers_free(struct pcsc_readers *r);

/* Whether a card sits in the reader, and the reader's card event counter
 * (which changes on every insertion or removal, so a swapped card shows). */
int pcsc_reader_status(struct pcsc_ctx *ctx, const char *reader, bool *present, unsigned *events);

/* Waits up to timeout_ms for a reader to appear or disappear, or a card to
 * be inserted or removed in a reader known from the previous call. Returns
 * 1 when something changed (list readers again), 0 on timeout, < 0 on
 * error. The first call only records the current state and returns 1. */
int pcsc_poll_changes(struct pcsc_ctx *ctx, unsigned timeout_ms);

/* Shared connection, T=0 or T=1. */
int pcsc_connect(const char *reader, struct pcsc_card **out);
/* reset_card: power-cycle the card on the way out (drops every login). */
void pcsc_disconnect(struct pcsc_card *card, bool reset_card);

const char *pcsc_card_reader(const struct pcsc_card *card);
/* 1 or 0 for T=1 / T=0. */
int pcsc_card_protocol(const struct pcsc_card *card);
/* Copies the ATR (at most 33 bytes) into atr. */
int pcsc_card_atr(struct pcsc_card *card, uint8_t *atr, size_t cap, size_t *len);

/* Exclusive access for a multi-APDU operation; calls nest, only the
 * outermost pair reaches the service. */
int pcsc_begin(struct pcsc_card *card);
int pcsc_end(struct pcsc_card *card);

/* One APDU; the response buffer capacity is *resp_len on entry. The bytes
 * go straight between the caller's buffers and pcsc-lite; the framing layer
 * wipes both after each exchange, and a failed call wipes resp here. */
int pcsc_transmit(struct pcsc_card *card, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *resp_len);

/* The transport for apdu_chan_init(&chan, &pcsc_transport, card).
 *
 * Recovery contract of begin and transmit (and pcsc_card_atr): after
 * another program reset the card, or the service was restarted, the
 * connection is re-established, the card session changes, and the call
 * returns APDU_E_CARD_RESET once; the caller then forgets every login and
 * selects its application again before retrying (the PIV layer selects by
 * itself when it sees the new session). A removed card gives
 * APDU_E_CARD_REMOVED; an unreachable service APDU_E_NO_SERVICE (the next
 * call tries again). */
extern const struct apdu_transport pcsc_transport;

/* The card session: a number that changes each time the connection is
 * restored after the card lost its state (see the recovery contract). */
unsigned long pcsc_card_session(const struct pcsc_card *card);

/* The pcsc-lite error behind the last failure on card (0 if none), for logs. */
long pcsc_card_last_error(const struct pcsc_card *card);
const char *pcsc_error_name(long err);

#endif
