/*
 * A minimal strict DER reader and header writer for the few structures
 * this room assembles or checks by hand (ECDSA signatures, certificate
 * envelopes). Internal to crypto/.
 */
#ifndef SIGNET_CRYPTO_DER_H
#define SIGNET_CRYPTO_DER_H

#include <stddef.h>
#include <stdint.h>

#define CR_DER_SEQUENCE 0x30
#define CR_DER_INTEGER 0x02
#define CR_DER_BIT_STRING 0x03
#define CR_DER_OCTET_STRING 0x04
#define CR_DER_OID 0x06
#define CR_DER_PRINTABLE_STRING 0x13

/* Unread input: the reader never looks past p + left. */
struct cr_der {
	const uint8_t *p;
	size_t left;
};

/*
 * Reads one element with a one-byte tag: *tag, and its value at *val of
 * *len bytes. Rejects multi-byte tags, indefinite and non-minimal lengths,
 * lengths over 2^32 - 1 and values past the input, returning CR_E_DATA and
 * leaving r unchanged; on success r moves past the element.
 */
int cr_der_read(struct cr_der *r, uint8_t *tag, const uint8_t **val, size_t *len);

/* cr_der_read() that also insists on the tag (CR_E_DATA otherwise). */
int cr_der_expect(struct cr_der *r, uint8_t tag, const uint8_t **val, size_t *len);

/* Size of a header (tag + length) for a value of len bytes. */
size_t cr_der_header_size(size_t len);

/* Writes a header for a value of len bytes at out; returns its size. */
size_t cr_der_put_header(uint8_t *out, uint8_t tag, size_t len);

#endif
