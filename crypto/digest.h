/* Message digests: incremental and one-shot hashing, DigestInfo prefixes. */
#ifndef SIGNET_CRYPTO_DIGEST_H
#define SIGNET_CRYPTO_DIGEST_H

#include <stddef.h>
#include <stdint.h>

enum cr_hash {
	CR_HASH_SHA1,
	CR_HASH_SHA224,
	CR_HASH_SHA256,
	CR_HASH_SHA384,
	CR_HASH_SHA512,
	CR_HASH_SHA3_224,
	CR_HASH_SHA3_256,
	CR_HASH_SHA3_384,
	CR_HASH_SHA3_512,
	CR_HASH_COUNT /* not a hash: the number of them */
};

/* The largest output of any cr_hash, for stack buffers. */
#define CR_HASH_MAX_SIZE 64

/* Output size in bytes; 0 for a value that is not a cr_hash. */
size_t cr_hash_size(enum cr_hash h);

/* An incremental digest operation; opaque. */
struct cr_digest;

/* Starts hashing with h. On success *out must later go to cr_digest_free(). */
int cr_digest_new(enum cr_hash h, struct cr_digest **out);

/* Adds len bytes; data may be NULL when len is 0. */
int cr_digest_update(struct cr_digest *d, const uint8_t *data, size_t len);

/*
 * Writes the digest to out. *out_len holds the capacity of out on entry and
 * the digest size on return. When out is NULL or too small this returns
 * CR_E_BUFFER with the size in *out_len and the operation stays usable, so
 * a PKCS#11 size query does not end it. After success the operation is
 * finished: update and final return CR_E_ARGS.
 */
int cr_digest_final(struct cr_digest *d, uint8_t *out, size_t *out_len);

/* The hash an operation was started with. */
enum cr_hash cr_digest_hash(const struct cr_digest *d);

/* Ends an operation; NULL is fine. */
void cr_digest_free(struct cr_digest *d);

/* Hashes data in one call; out and *out_len work as in cr_digest_final(). */
int cr_hash_once(enum cr_hash h, const uint8_t *data, size_t len, uint8_t *out, size_t *out_len);

/*
 * The DER prefix of a PKCS#1 v1.5 DigestInfo for h: the bytes that precede
 * the hash value in SEQUENCE { AlgorithmIdentifier { oid, NULL }, OCTET STRING }.
 * *prefix points at static storage.
 */
int cr_digestinfo_prefix(enum cr_hash h, const uint8_t **prefix, size_t *prefix_len);

#endif
