#include "pkcs11/session.h"

#include <stdlib.h>

#include "pkcs11/core.h"
#include "pkcs11/handle.h"
#include "pkcs11/hmap.h"
#include "pkcs11/lock.h"

/* Handles start above small numbers so that a caller mixing them up with indexes is caught. */
#define FIRST_HANDLE 0x10

/* Guarded by the module lock. */
static struct hmap sessions;   /* (handle, 0) -> struct session */
/* Never reset: a handle kept from before C_Finalize must not name something new. */
static CK_ULONG next_session = FIRST_HANDLE;

static void free_session(struct session *s)
{
	if (s->op_state_free != NULL)
		s->op_state_free(s->op_state);
	free(s->find.handles);
	free(s->own_objects);
	lock_free(s->call_lock);
	free(s);
}

/* Sessions still open at C_Finalize (or inherited by a forked child): their tokens' state goes too. */
static void drop_session_entry(struct hmap_key k, void *value, void *ctx)
{
	struct session *s = value;
	const bool *quietly = ctx;

	(void)k;
	if (s->slot->ops->session_close != NULL)
		s->slot->ops->session_close(s->slot->tok, s->ss, *quietly);
	free_session(s);
}

void sessions_init(void)
{
	hmap_init(&sessions);
}

void sessions_free(bool quietly)
{
	hmap_each(&sessions, drop_session_entry, &quietly);
	hmap_free(&sessions);
}

static struct hmap_key session_key(CK_SESSION_HANDLE h)
{
	return (struct hmap_key){ h, 0 };
}

CK_STATE session_state_locked(const struct session *s)
{
	bool rw = (s->flags & CKF_RW_SESSION) != 0;

	switch (s->slot->login) {
	case CKU_SO:
		return CKS_RW_SO_FUNCTIONS;
	case CKU_USER:
		return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	default:
		return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
	}
}

CK_RV session_open(struct slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *handle)
{
	struct session *s;
	void *ss = NULL;
	CK_RV rv;

	if (slot->ops->session_open == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CKR_HOST_MEMORY;
	rv = lock_new(&s->call_lock);
	if (rv != CKR_OK) {
		free(s);
		return rv;
	}
	rv = slot->ops->session_open(slot->tok, flags, &ss);
	if (rv != CKR_OK) {
		lock_free(s->call_lock);
		free(s);
		return rv;
	}
	s->slot = slot;
	s->flags = flags;
	s->ss = ss;
	rv = core_lock();
	if (rv != CKR_OK)
		goto fail;
	/* The SO may have logged in while the token was opening this session. */
	if (slot->login == CKU_SO && !(flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
	} else {
		s->handle = next_session++;
		if (!hmap_put(&sessions, session_key(s->handle), s)) {
			rv = CKR_HOST_MEMORY;
		} else {
			slot->sessions++;
			if (flags & CKF_RW_SESSION)
				slot->rw_sessions++;
			*handle = s->handle;
		}
	}
	core_unlock();
	if (rv == CKR_OK)
		return CKR_OK;
fail:
	slot->ops->session_close(slot->tok, ss, false);
	lock_free(s->call_lock);
	free(s);
	return rv;
}

CK_RV session_peek(CK_SESSION_HANDLE handle, struct session **out)
{
	struct session *s;
	CK_RV rv = core_enter();

	if (rv != CKR_OK)
		return rv;
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	s = hmap_get(&sessions, session_key(handle));
	if (s == NULL || atomic_load(&s->closing)) {
		rv = CKR_SESSION_HANDLE_INVALID;
	} else {
		s->refs++;
		*out = s;
	}
	core_unlock();
out:
	if (rv != CKR_OK)
		core_leave();
	return rv;
}

CK_RV session_acquire(CK_SESSION_HANDLE handle, struct session **out)
{
	struct session *s;
	CK_RV rv = session_peek(handle, &s);

	if (rv != CKR_OK)
		return rv;
	rv = lock_take(s->call_lock);
	if (rv != CKR_OK) {
		session_unpeek(s);
		return rv;
	}
	/* LOCKED: session call */
	if (atomic_load(&s->closing)) {
		/* Closed by another thread while this call waited for the one before it. */
		session_release(s);
		return CKR_SESSION_HANDLE_INVALID;
	}
	*out = s;
	return CKR_OK;
}

/*
 * PKCS#11: closing the last session of an application logs it out. Decided
 * and done under the slot's login lock, so that a login on a session opened
 * meanwhile cannot fall between the decision and the token's logout.
 */
static void logout_if_last(struct slot *slot, void *ss)
{
	bool logout = false;

	if (lock_take(slot->login_lock) != CKR_OK)
		return;
	/* LOCKED: slot login */
	if (core_lock() == CKR_OK) {
		if (slot->sessions == 0 && slot->login != NO_LOGIN) {
			slot->login = NO_LOGIN;
			logout = true;
		}
		core_unlock();
	}
	if (logout && slot->ops->logout != NULL && !core_exiting())
		slot->ops->logout(slot->tok, ss);
	lock_give(slot->login_lock);
}

/* Called with the lock held on the last reference of a closing session; returns with it released. */
static void finish_close(struct session *s)
{
	struct slot *slot = s->slot;

	slot->sessions--;
	if (s->flags & CKF_RW_SESSION)
		slot->rw_sessions--;
	core_unlock();
	/* A session whose token left the slot has nothing to log out and no device to talk to. */
	if (!s->token_gone)
		logout_if_last(slot, s->ss);
	if (slot->ops->session_close != NULL)
		slot->ops->session_close(slot->tok, s->ss, s->token_gone || core_exiting());
	for (CK_ULONG i = 0; i < s->n_own_objects; i++)
		object_forget(slot, s->own_objects[i]);
	free_session(s);
}

void session_unpeek(struct session *s)
{
	if (core_lock() == CKR_OK) {
		if (--s->refs == 0 && atomic_load(&s->closing))
			finish_close(s); /* unlocks */
		else
			core_unlock();
	}
	core_leave();
}

void session_release(struct session *s)
{
	lock_give(s->call_lock);
	session_unpeek(s);
}

/* Caller holds the lock; returns with the lock released. */
static void close_locked(struct session *s, bool token_gone)
{
	s->token_gone = token_gone;
	hmap_remove(&sessions, session_key(s->handle));
	atomic_store(&s->closing, true);
	if (s->refs == 0)
		finish_close(s);
	else
		core_unlock();
}

static CK_RV close_session(CK_SESSION_HANDLE handle, bool token_gone)
{
	struct session *s;
	CK_RV rv = core_lock();

	if (rv != CKR_OK)
		return rv;
	s = hmap_get(&sessions, session_key(handle));
	if (s == NULL) {
		core_unlock();
		return CKR_SESSION_HANDLE_INVALID;
	}
	close_locked(s, token_gone);
	return CKR_OK;
}

CK_RV session_close(CK_SESSION_HANDLE handle)
{
	return close_session(handle, false);
}

struct collect { const struct slot *slot; CK_SESSION_HANDLE *handles; CK_ULONG n; };

static void collect_slot_sessions(struct hmap_key k, void *value, void *ctx)
{
	struct collect *c = ctx;
	struct session *s = value;

	if (s->slot == c->slot)
		c->handles[c->n++] = k.a;
}

static CK_RV close_slot_sessions(struct slot *slot, bool token_gone)
{
	struct collect c = { slot, NULL, 0 };
	CK_RV rv = core_lock();

	if (rv != CKR_OK)
		return rv;
	c.handles = malloc((slot->sessions + 1) * sizeof(*c.handles));
	if (c.handles == NULL) {
		core_unlock();
		return CKR_HOST_MEMORY;
	}
	hmap_each(&sessions, collect_slot_sessions, &c);
	core_unlock();
	for (CK_ULONG i = 0; i < c.n; i++)
		close_session(c.handles[i], token_gone); /* a concurrent close of the same handle is fine */
	free(c.handles);
	return CKR_OK;
}

CK_RV session_close_all(struct slot *slot)
{
	return close_slot_sessions(slot, false);
}

void session_close_all_gone(struct slot *slot)
{
	close_slot_sessions(slot, true);
}
