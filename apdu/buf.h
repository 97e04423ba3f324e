/* Growable byte buffer with a sticky failure flag.
 *
 * Builders append without checking each call; the first failure (allocation,
 * size overflow, misuse) sets `failed`, later appends do nothing, and the
 * caller checks buf_ok() once before using the bytes. The buffer may hold
 * secrets (PINs, keys), so every byte it ever held is wiped before its
 * memory is released or reused. */
#ifndef SIGNET_APDU_BUF_H
#define SIGNET_APDU_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *d;
	size_t len, cap;
	bool failed;
};

/* No buffer grows past this; a larger request marks it failed. */
#define BUF_MAX_SIZE ((size_t)16 * 1024 * 1024)

void buf_init(struct buf *b);
/* Wipes then frees; the buffer is left initialised and empty. */
void buf_free(struct buf *b);
/* len = 0 and failed = false; keeps the memory, wiped. */
void buf_reset(struct buf *b);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16be(struct buf *b, uint16_t v);
bool buf_ok(const struct buf *b);

/* Makes room for n more bytes without changing len; false (and failed set)
 * when that is impossible. */
bool buf_reserve(struct buf *b, size_t n);
/* Marks the buffer failed, for callers that detect bad input while building. */
void buf_fail(struct buf *b);

#endif
