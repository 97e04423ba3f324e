#include "pkcs11/slot.h"

#include <stdlib.h>

#include "pkcs11/core.h"
#include "pkcs11/handle.h"
#include "pkcs11/lock.h"
#include "pkcs11/log.h"
#include "pkcs11/session.h"
#include "pkcs11/slots.h"

/* In ID order; guarded by the module lock. */
static struct slot **slots;
static CK_ULONG nslots;
static bool events_on;   /* the drivers have started: what they report now is an event */

/* The lowest free ID of the range; 0 with *id unset when the range is full. Caller holds the lock. */
static bool next_free_id_locked(enum slot_range range, CK_SLOT_ID *id)
{
	CK_SLOT_ID first = range == SLOT_RANGE_CARD ? 0 : SLOT_RANGE_SIZE;
	CK_SLOT_ID last = range == SLOT_RANGE_CARD ? SLOT_RANGE_SIZE - 1 : (CK_SLOT_ID)-2;

	for (CK_SLOT_ID candidate = first; candidate <= last; candidate++) {
		if (slot_find_locked(candidate) == NULL) {
			*id = candidate;
			return true;
		}
	}
	return false;
}

/* The table stays in ID order, which is the order of every slot list. Caller holds the lock. */
static void insert_in_id_order_locked(struct slot *s)
{
	CK_ULONG at = nslots;

	while (at > 0 && slots[at - 1]->id > s->id) {
		slots[at] = slots[at - 1];
		at--;
	}
	slots[at] = s;
	nslots++;
}

CK_RV slot_add(struct token *tok, const struct token_ops *ops, enum slot_range range, CK_SLOT_ID *id)
{
	struct slot *s, **grown;
	CK_RV rv;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CKR_HOST_MEMORY;
	s->tok = tok;
	s->ops = ops;
	s->login = NO_LOGIN;
	s->present = true;
	rv = lock_new(&s->login_lock);
	if (rv != CKR_OK) {
		free(s);
		return rv;
	}
	rv = core_lock();
	if (rv != CKR_OK) {
		lock_free(s->login_lock);
		free(s);
		return rv;
	}
	grown = realloc(slots, (nslots + 1) * sizeof(*slots));
	if (grown != NULL)
		slots = grown;
	if (grown == NULL || !next_free_id_locked(range, &s->id)) {
		log_msg(LL_ERROR, "no slot left for another %s token", ops->kind);
		rv = CKR_HOST_MEMORY;
		lock_free(s->login_lock);
		free(s);
		goto out;
	}
	insert_in_id_order_locked(s);
	s->event = events_on; /* a reader plugged in after C_Initialize */
	if (id != NULL)
		*id = s->id;
out:
	core_unlock();
	return rv;
}

/*
 * A new token epoch for the slot: no login, no handle of the old token, and
 * the mechanisms pkcs11/mech.c read are the old token's. Returns the slot or NULL.
 */
static struct slot *start_new_epoch(CK_SLOT_ID id)
{
	struct slot *slot;

	if (core_lock() != CKR_OK)
		return NULL;
	slot = slot_find_locked(id);
	if (slot != NULL) {
		slot->epoch++;
		slot->login = NO_LOGIN;
		slot->event = events_on;
		objects_forget_slot_locked(slot);
	}
	core_unlock();
	return slot;
}

void slot_token_changed(CK_SLOT_ID id)
{
	struct slot *slot = start_new_epoch(id);

	if (slot == NULL)
		return;
	session_close_all_gone(slot);
	log_msg(LL_INFO, "slot %lu: a different token", (unsigned long)id);
}

void slot_set_present(CK_SLOT_ID id, enum slot_presence presence)
{
	struct slot *slot;
	bool was_present, present = presence == SLOT_TOKEN_PRESENT;

	if (core_lock() != CKR_OK)
		return;
	slot = slot_find_locked(id);
	if (slot != NULL) {
		was_present = slot->present;
		slot->present = present;
		slot->removed = presence == SLOT_GONE;
	}
	core_unlock();
	if (slot != NULL && was_present != present)
		slot_token_changed(id);
}

void slot_login_lost(CK_SLOT_ID id)
{
	struct slot *slot;

	if (core_lock() != CKR_OK)
		return;
	slot = slot_find_locked(id);
	if (slot != NULL && slot->login != NO_LOGIN) {
		slot->login = NO_LOGIN;
		log_msg(LL_INFO, "slot %lu: the token forgot the login", (unsigned long)id);
	}
	core_unlock();
}

bool slot_token_there(struct slot *s)
{
	bool there = false;

	if (core_lock() == CKR_OK) {
		there = s->present && !s->removed;
		core_unlock();
	}
	return there;
}

bool slot_host_exiting(void)
{
	return core_exiting();
}

void slot_note_host_exiting(void)
{
	core_set_exiting();
}

struct slot *slot_find_locked(CK_SLOT_ID id)
{
	for (CK_ULONG i = 0; i < nslots; i++)
		if (slots[i]->id == id)
			return slots[i];
	return NULL;
}

CK_ULONG slot_count_locked(void)
{
	return nslots;
}

struct slot *slot_at_locked(CK_ULONG index)
{
	return index < nslots ? slots[index] : NULL;
}

void slots_free(void)
{
	for (CK_ULONG i = 0; i < nslots; i++) {
		free(slots[i]->mechs);
		lock_free(slots[i]->login_lock);
		free(slots[i]);
	}
	free(slots);
	slots = NULL;
	nslots = 0;
}

void slots_report_events(bool on)
{
	if (core_lock() != CKR_OK)
		return;
	events_on = on;
	core_unlock();
}

bool slot_take_event(CK_SLOT_ID *id)
{
	bool found = false;

	if (core_lock() != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < nslots && !found; i++) {
		if (slots[i]->event) {
			slots[i]->event = false;
			*id = slots[i]->id;
			found = true;
		}
	}
	core_unlock();
	return found;
}
