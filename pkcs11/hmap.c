#include "pkcs11/hmap.h"

#include <stdint.h>
#include <stdlib.h>

enum { EMPTY, LIVE, TOMB };

struct hmap_slot {
	struct hmap_key key;
	void *value;
	unsigned char state;
};

static size_t hash_key(struct hmap_key k)
{
	uint64_t h = (uint64_t)k.a * 0x9E3779B97F4A7C15ull;

	h ^= (uint64_t)k.b + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 29;
	return (size_t)h;
}

static bool key_eq(struct hmap_key x, struct hmap_key y)
{
	return x.a == y.a && x.b == y.b;
}

void hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->cap = m->used = m->filled = 0;
}

void hmap_free(struct hmap *m)
{
	free(m->slots);
	hmap_init(m);
}

static struct hmap_slot *probe(const struct hmap *m, struct hmap_key k)
{
	size_t mask, i;

	if (m->cap == 0)
		return NULL;
	mask = m->cap - 1;
	for (i = hash_key(k) & mask;; i = (i + 1) & mask) {
		struct hmap_slot *s = &m->slots[i];

		if (s->state == EMPTY)
			return NULL;
		if (s->state == LIVE && key_eq(s->key, k))
			return s;
	}
}

void *hmap_get(const struct hmap *m, struct hmap_key k)
{
	struct hmap_slot *s = probe(m, k);

	return s != NULL ? s->value : NULL;
}

static bool rehash(struct hmap *m, size_t new_cap)
{
	struct hmap_slot *old = m->slots;
	size_t old_cap = m->cap;

	m->slots = calloc(new_cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		m->slots = old;
		return false;
	}
	m->cap = new_cap;
	m->used = m->filled = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].state == LIVE)
			hmap_put(m, old[i].key, old[i].value);
	free(old);
	return true;
}

bool hmap_put(struct hmap *m, struct hmap_key k, void *value)
{
	struct hmap_slot *s = probe(m, k);
	size_t mask, i;

	if (s != NULL) {
		s->value = value;
		return true;
	}
	/* Keep the load (tombstones included) under 1/2 so probes stay short. */
	if ((m->filled + 1) * 2 > m->cap) {
		size_t cap = 16;

		/* Rebuilding drops the tombstones; grow only if live entries need it. */
		while ((m->used + 1) * 4 > cap)
			cap *= 2;
		if (!rehash(m, cap))
			return false;
	}
	mask = m->cap - 1;
	for (i = hash_key(k) & mask; m->slots[i].state == LIVE; i = (i + 1) & mask)
		;
	if (m->slots[i].state == EMPTY)
		m->filled++;
	m->slots[i].key = k;
	m->slots[i].value = value;
	m->slots[i].state = LIVE;
	m->used++;
	return true;
}

void *hmap_remove(struct hmap *m, struct hmap_key k)
{
	struct hmap_slot *s = probe(m, k);
	void *v;

	if (s == NULL)
		return NULL;
	v = s->value;
	s->state = TOMB;
	s->value = NULL;
	m->used--;
	return v;
}

void hmap_each(const struct hmap *m, void (*fn)(struct hmap_key k, void *value, void *ctx), void *ctx)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].state == LIVE)
			fn(m->slots[i].key, m->slots[i].value, ctx);
}
