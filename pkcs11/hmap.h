/*
 * A small open-addressing hash map from a pair of CK_ULONGs to a pointer.
 * Used for session handles, object handles and their reverse lookups. Not
 * thread-safe: callers hold the module lock.
 */
#ifndef SIGNET_HMAP_H
#define SIGNET_HMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "pkcs11/cryptoki.h"

struct hmap_key { CK_ULONG a, b; };
struct hmap_slot;

struct hmap {
	struct hmap_slot *slots;
	size_t cap;     /* power of two, or 0 */
	size_t used;    /* live entries */
	size_t filled;  /* live entries plus tombstones */
};

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);
void *hmap_get(const struct hmap *m, struct hmap_key k);
/* Inserts or replaces; false when memory runs out. */
bool hmap_put(struct hmap *m, struct hmap_key k, void *value);
void *hmap_remove(struct hmap *m, struct hmap_key k);
/* Calls fn for every live entry; fn must not change the map. */
void hmap_each(const struct hmap *m, void (*fn)(struct hmap_key k, void *value, void *ctx), void *ctx);

#endif
