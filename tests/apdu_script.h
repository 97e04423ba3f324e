/* A scripted apdu_transport for unit tests of the framing and PIV layers:
 * each expected command is compared byte for byte, then its canned reply is
 * returned. Included by the check_* programs that need it. */
#ifndef SIGNET_TESTS_APDU_SCRIPT_H
#define SIGNET_TESTS_APDU_SCRIPT_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/apdu.h"
#include "apdu/buf.h"
#include "tests/check_util.h"

#define SCRIPT_MAX_STEPS 64

struct script_step {
	struct buf cmd, resp;
	int rc;
	bool any_cmd; /* accept whatever command comes */
};

struct script {
	struct script_step steps[SCRIPT_MAX_STEPS];
	size_t n, pos;
	int depth, begins, ends;
	unsigned long session; /* what script_session_transport reports */
};

/* Parses "00 A4 04 00" (spaces optional) and appends the bytes to b. */
static inline void hex_put(struct buf *b, const char *s)
{
	size_t cap = strlen(s) / 2 + 1;
	uint8_t *bytes = malloc(cap);

	ck_assert_ptr_nonnull(bytes);
	buf_put(b, bytes, tu_unhex(s, bytes, cap));
	free(bytes);
	ck_assert(buf_ok(b));
}

static inline void script_init(struct script *s)
{
	memset(s, 0, sizeof(*s));
}

static inline void script_free(struct script *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		buf_free(&s->steps[i].cmd);
		buf_free(&s->steps[i].resp);
	}
	s->n = 0;
}

/* Adds a step and returns it so binary parts can be appended. */
static inline struct script_step *script_add(struct script *s, const char *cmd_hex,
					     const char *resp_hex, int rc)
{
	struct script_step *st;

	ck_assert_uint_lt(s->n, SCRIPT_MAX_STEPS);
	st = &s->steps[s->n++];
	buf_init(&st->cmd);
	buf_init(&st->resp);
	hex_put(&st->cmd, cmd_hex);
	hex_put(&st->resp, resp_hex);
	st->rc = rc;
	st->any_cmd = false;
	return st;
}

/* Appends raw bytes, then a hex tail (a status word, say), to the answer of step st. */
static inline void resp_append(struct script_step *st, const uint8_t *data, size_t n, const char *tail)
{
	buf_put(&st->resp, data, n);
	hex_put(&st->resp, tail);
}

/* The last added step accepts any command (for tests of answer parsing). */
static inline void expect_command_any(struct script *s)
{
	ck_assert_uint_gt(s->n, 0);
	s->steps[s->n - 1].any_cmd = true;
}

static inline void script_expect(struct script *s, const char *cmd_hex, const char *resp_hex)
{
	script_add(s, cmd_hex, resp_hex, APDU_OK);
}

static inline void dump_hex(char *out, size_t size, const uint8_t *p, size_t n)
{
	size_t used = 0, i;

	out[0] = '\0';
	for (i = 0; i < n && used + 4 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%02X ", p[i]);
}

static inline int script_transmit(void *ctx, const uint8_t *cmd, size_t n,
				  uint8_t *resp, size_t *resp_len)
{
	struct script *s = ctx;
	struct script_step *st;
	char got[400], want[400];

	ck_assert_msg(s->pos < s->n, "unexpected extra command (step %zu)", s->pos);
	st = &s->steps[s->pos++];
	dump_hex(got, sizeof(got), cmd, n);
	dump_hex(want, sizeof(want), st->cmd.d, st->cmd.len);
	ck_assert_msg(st->any_cmd || (n == st->cmd.len && memcmp(cmd, st->cmd.d, n) == 0),
		      "step %zu: command\n  got  %s(%zu bytes)\n  want %s(%zu bytes)",
		      s->pos - 1, got, n, want, st->cmd.len);
	if (st->rc != APDU_OK)
		return st->rc;
	ck_assert_uint_le(st->resp.len, *resp_len);
	if (st->resp.len > 0)
		memcpy(resp, st->resp.d, st->resp.len);
	*resp_len = st->resp.len;
	return APDU_OK;
}

static inline int script_begin(void *ctx)
{
	struct script *s = ctx;

	s->depth++;
	s->begins++;
	return APDU_OK;
}

static inline int script_end(void *ctx)
{
	struct script *s = ctx;

	ck_assert_int_gt(s->depth, 0);
	s->depth--;
	s->ends++;
	return APDU_OK;
}

static const struct apdu_transport script_transport = {
	.transmit = script_transmit,
	.begin = script_begin,
	.end = script_end,
};

static inline unsigned long script_session(void *ctx)
{
	return ((struct script *)ctx)->session;
}

/* The same with a card session: a test changes s->session to play a card
 * that lost its state without a failed call telling so. */
static const struct apdu_transport script_session_transport = {
	.transmit = script_transmit,
	.begin = script_begin,
	.end = script_end,
	.session = script_session,
};

/* Every scripted step was used and every begin has its end. */
static inline void script_assert_done(const struct script *s)
{
	ck_assert_msg(s->pos == s->n, "only %zu of %zu scripted commands were sent", s->pos, s->n);
	ck_assert_int_eq(s->depth, 0);
}

#endif
