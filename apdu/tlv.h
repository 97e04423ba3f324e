/* BER-TLV as PIV and ISO 7816-4 use it: tags of 1 to 3 bytes, definite
 * lengths of 1 to 4 bytes (short form, 81 xx, 82 xx xx, 83 xx xx xx).
 *
 * A tag is handled as the integer made of its bytes, so 5F C1 05 is
 * 0x5FC105 and 7F 49 is 0x7F49. */
#ifndef SIGNET_APDU_TLV_H
#define SIGNET_APDU_TLV_H

#include <stddef.h>
#include <stdint.h>

#include "apdu/buf.h"

/* Results below zero; tlv_next() and tlv_find() return 1 / 0 otherwise. */
enum tlv_rc {
	TLV_E_TRUNCATED = -1, /* tag, length or value runs past the input */
	TLV_E_TAG = -2,       /* tag longer than 3 bytes */
	TLV_E_LENGTH = -3,    /* indefinite length (80) or length-of-length over 3 */
};

#define TLV_MAX_LEN 0xFFFFFFu

/* Reader over a byte range; never reads past it and advances only past an
 * item that parsed completely. */
struct tlv_rd {
	const uint8_t *p;
	size_t left;
};

void tlv_rd_init(struct tlv_rd *r, const uint8_t *p, size_t n);
/* 1: one item read (val points into the input), 0: input exhausted,
 * < 0: malformed (enum tlv_rc), reader unchanged. */
int tlv_next(struct tlv_rd *r, uint32_t *tag, const uint8_t **val, size_t *len);
/* Looks for tag among the top-level items of p. 1 found, 0 absent,
 * < 0 malformed before the tag was reached. */
int tlv_find(const uint8_t *p, size_t n, uint32_t tag, const uint8_t **val, size_t *len);
/* Like tlv_find, but the whole range must parse, and the tag must occur once. */
int tlv_find_strict(const uint8_t *p, size_t n, uint32_t tag, const uint8_t **val, size_t *len);

/* Writers; bad arguments (tag over 3 bytes, length over TLV_MAX_LEN) mark b failed. */
void tlv_put(struct buf *b, uint32_t tag, const void *val, size_t len);
void tlv_put_len(struct buf *b, size_t len);
void tlv_put_tag(struct buf *b, uint32_t tag);
/* Number of bytes tlv_put_len() writes for len (0 when len is too large). */
size_t tlv_len_size(size_t len);
/* Starts a constructed item whose length is not known yet; returns a mark
 * for tlv_close(), which writes the final length (moving the value when the
 * length needs more than one byte). Marks nest: close inner items first. */
size_t tlv_open(struct buf *b, uint32_t tag);
void tlv_close(struct buf *b, size_t mark);

#endif
