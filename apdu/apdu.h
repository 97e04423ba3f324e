/* ISO 7816-4 command APDUs: description, validation, encoding, and one
 * exchange with a card including command chaining, GET RESPONSE (61xx) and
 * the corrected-Le retry (6Cxx).
 *
 * The bytes go through a small transport vtable so that the same framing
 * runs over PC/SC and over a scripted transport in the unit tests. */
#ifndef SIGNET_APDU_APDU_H
#define SIGNET_APDU_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/buf.h"

enum apdu_rc {
	APDU_OK = 0,
	APDU_E_INVALID = -1,      /* command inconsistent with its case, or bad argument */
	APDU_E_TRANSPORT = -2,    /* the reader or the transport failed */
	APDU_E_RESPONSE = -3,     /* malformed response (no status word, endless 61xx) */
	APDU_E_OVERFLOW = -4,     /* response data larger than the caller's capacity */
	APDU_E_NOMEM = -5,
	APDU_E_CARD_RESET = -6,   /* another program reset the card: session state is gone */
	APDU_E_CARD_REMOVED = -7, /* no card in the reader any more */
	APDU_E_NO_SERVICE = -8,   /* the smart-card service is unreachable */
	APDU_E_NO_READER = -9,    /* the reader is gone */
	APDU_E_TIMEOUT = -10,     /* a wait ran out, or a card did not answer */
};

enum apdu_case {
	APDU_CASE_1 = 1, /* no data, no response data */
	APDU_CASE_2 = 2, /* response data expected (Le) */
	APDU_CASE_3 = 3, /* command data (Lc), no response data */
	APDU_CASE_4 = 4, /* command data and response data */
};

/* Flags */
#define APDU_F_SENSITIVE 0x01u /* data carries a secret: logs show header and Lc only */
#define APDU_F_SECRET_RESPONSE 0x02u /* the answer is secret (decryption, key agreement) */

#define APDU_SHORT_MAX_LC 255u
#define APDU_SHORT_MAX_LE 256u
#define APDU_EXT_MAX_LC 65535u
#define APDU_EXT_MAX_LE 65536u
/* Largest response one transmit can return: extended data plus SW1 SW2. */
#define APDU_MAX_RESP (APDU_EXT_MAX_LE + 2u)

struct apdu {
	uint8_t cla, ins, p1, p2;
	enum apdu_case kase;
	bool extended;       /* encode Lc/Le in the extended form */
	const uint8_t *data; /* lc bytes, cases 3 and 4 */
	size_t lc;
	size_t le;           /* Ne: 1..256 short, 1..65536 extended; cases 2 and 4 */
	unsigned flags;      /* APDU_F_* */
};

/* One card connection as seen by the framing layer. transmit() gets the
 * capacity of resp in *resp_len and returns the received length there.
 * begin/end bracket an exchange of several APDUs so no other program can
 * interleave its own; they may be NULL and must nest. All return
 * enum apdu_rc. session() names the card session: it changes whenever the
 * card lost its state (reset, pulled and put back, reconnected after a
 * service restart), so that what a layer above keeps about the card, such
 * as the selected application, is known to be stale. It may be NULL: the
 * session then never changes. */
struct apdu_transport {
	int (*transmit)(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *resp_len);
	int (*begin)(void *ctx);
	int (*end)(void *ctx);
	unsigned long (*session)(void *ctx);
};

/* A transport plus what the caller wants to observe of the traffic. */
struct apdu_chan {
	const struct apdu_transport *tp;
	void *tp_ctx;
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	unsigned long count;
};

void apdu_chan_init(struct apdu_chan *c, const struct apdu_transport *tp, void *tp_ctx);
/* Logs one line per command and response sent; NULL (the default) is silent. */
void apdu_set_logger(struct apdu_chan *c, void (*fn)(void *ctx, const char *line), void *ctx);
/* Number of APDUs sent on the wire, fragments and GET RESPONSEs included. */
unsigned long apdu_count(const struct apdu_chan *c);
void apdu_count_reset(struct apdu_chan *c);

/* APDU_OK when the command is consistent with its case; chaining is allowed,
 * so a short command may carry up to APDU_EXT_MAX_LC data bytes. */
int apdu_check(const struct apdu *a);
/* Appends one encoded APDU; a short command must then fit (lc <= 255). */
int apdu_encode(const struct apdu *a, struct buf *out);

/* Sends a (chained if needed), collects the response data into out (at most
 * cap bytes, following 61xx) and returns the final status word in *sw.
 * APDU_OK means the exchange completed, whatever the status word. */
int apdu_transmit(struct apdu_chan *c, const struct apdu *a,
		  uint8_t *out, size_t cap, size_t *out_len, uint16_t *sw);

/* Brackets several apdu_transmit() calls into one exclusive exchange. */
int apdu_begin(struct apdu_chan *c);
int apdu_end(struct apdu_chan *c);

/* The transport's card session (see struct apdu_transport), 0 without one. */
unsigned long apdu_session(const struct apdu_chan *c);

const char *apdu_rc_name(int rc);

#endif
