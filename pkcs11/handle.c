#include "pkcs11/handle.h"

#include <stdint.h>
#include <stdlib.h>

#include "pkcs11/core.h"
#include "pkcs11/hmap.h"
#include "pkcs11/session.h"
#include "pkcs11/slots.h"

/* Handles start above small numbers so that a caller mixing them up with indexes is caught. */
#define FIRST_HANDLE 0x10

struct object_entry {
	CK_SLOT_ID slot;
	CK_ULONG epoch;            /* the token the handle was made for */
	token_ref ref;
};

/* Guarded by the module lock. */
static struct hmap objects;       /* (handle, 0) -> struct object_entry */
static struct hmap object_refs;   /* (slot, ref) -> handle */
/* Never reset: a handle kept from before C_Finalize must not name something new. */
static CK_ULONG next_object = FIRST_HANDLE;

void objects_init(void)
{
	hmap_init(&objects);
	hmap_init(&object_refs);
}

static void drop_object_entry(struct hmap_key k, void *value, void *ctx)
{
	(void)k;
	(void)ctx;
	free(value);
}

void objects_free(void)
{
	hmap_each(&objects, drop_object_entry, NULL);
	hmap_free(&objects);
	hmap_free(&object_refs);
}

CK_RV object_handle_for(const struct slot *slot, token_ref ref, CK_OBJECT_HANDLE *out)
{
	struct hmap_key rk = { slot->id, ref };
	struct object_entry *e;
	void *found;
	CK_RV rv = core_lock();

	if (rv != CKR_OK)
		return rv;
	found = hmap_get(&object_refs, rk);
	if (found != NULL) {
		*out = (CK_OBJECT_HANDLE)(uintptr_t)found;
		goto out;
	}
	e = malloc(sizeof(*e));
	if (e == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	e->slot = slot->id;
	e->epoch = slot->epoch;
	e->ref = ref;
	*out = next_object;
	if (!hmap_put(&objects, (struct hmap_key){ *out, 0 }, e)) {
		free(e);
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (!hmap_put(&object_refs, rk, (void *)(uintptr_t)*out)) {
		free(hmap_remove(&objects, (struct hmap_key){ *out, 0 }));
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	next_object++;
out:
	core_unlock();
	return rv;
}

CK_RV object_ref_of(const struct slot *slot, CK_OBJECT_HANDLE handle, token_ref *out)
{
	struct object_entry *e;
	CK_RV rv = core_lock();

	if (rv != CKR_OK)
		return rv;
	e = hmap_get(&objects, (struct hmap_key){ handle, 0 });
	/* A handle of a token that has left the slot never names an object of the one there now. */
	if (e == NULL || e->slot != slot->id || e->epoch != slot->epoch)
		rv = CKR_OBJECT_HANDLE_INVALID;
	else
		*out = e->ref;
	core_unlock();
	return rv;
}

void object_forget(const struct slot *slot, CK_OBJECT_HANDLE handle)
{
	struct object_entry *e;

	if (core_lock() != CKR_OK)
		return;
	e = hmap_get(&objects, (struct hmap_key){ handle, 0 });
	if (e != NULL && e->slot == slot->id) {
		hmap_remove(&object_refs, (struct hmap_key){ e->slot, e->ref });
		free(hmap_remove(&objects, (struct hmap_key){ handle, 0 }));
	}
	core_unlock();
}

static bool is_session_object(struct session *s, token_ref ref)
{
	CK_BBOOL on_token = CK_TRUE;
	CK_ATTRIBUTE a = { CKA_TOKEN, &on_token, sizeof(on_token) };

	if (s->slot->ops->get_attributes == NULL ||
	    s->slot->ops->get_attributes(s->slot->tok, s->ss, ref, &a, 1) != CKR_OK)
		return false; /* unknown: keep the handle, as for token objects */
	return on_token == CK_FALSE;
}

CK_RV object_handle_for_new(struct session *s, token_ref ref, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_HANDLE *grown;
	CK_RV rv = object_handle_for(s->slot, ref, out);

	if (rv != CKR_OK || !is_session_object(s, ref))
		return rv;
	rv = core_lock();
	if (rv != CKR_OK)
		return rv;
	grown = realloc(s->own_objects, (s->n_own_objects + 1) * sizeof(*grown));
	if (grown != NULL) {
		s->own_objects = grown;
		s->own_objects[s->n_own_objects++] = *out;
	}
	/* Without memory the handle merely stays mapped longer: no error for the caller. */
	core_unlock();
	return CKR_OK;
}

struct slot_handles { CK_SLOT_ID slot; CK_OBJECT_HANDLE *list; CK_ULONG n, cap; };

static void collect_slot_handle(struct hmap_key k, void *value, void *ctx)
{
	struct object_entry *e = value;
	struct slot_handles *c = ctx;

	if (e->slot == c->slot && c->n < c->cap)
		c->list[c->n++] = k.a;
}

/* Forgets every handle of the slot's current token. Caller holds the lock. */
void objects_forget_slot_locked(const struct slot *slot)
{
	struct slot_handles c = { slot->id, NULL, 0, objects.used };

	c.list = malloc((c.cap + 1) * sizeof(*c.list));
	if (c.list == NULL)
		return; /* the epoch check still refuses them; they merely stay in the map */
	hmap_each(&objects, collect_slot_handle, &c);
	for (CK_ULONG i = 0; i < c.n; i++) {
		struct object_entry *e = hmap_remove(&objects, (struct hmap_key){ c.list[i], 0 });

		if (e != NULL)
			hmap_remove(&object_refs, (struct hmap_key){ e->slot, e->ref });
		free(e);
	}
	free(c.list);
}
