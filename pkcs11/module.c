#include "pkcs11/module.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/drivers.h"
#include "pkcs11/hmap.h"
#include "pkcs11/lock.h"
#include "pkcs11/log.h"
#include "pkcs11/mech.h"

/* Handles start above small numbers so that a caller mixing them up with indexes is caught. */
#define FIRST_HANDLE 0x10

struct object_entry {
	CK_SLOT_ID slot;
	CK_ULONG epoch;            /* the token the handle was made for */
	token_ref ref;
};

static struct {
	bool initialized;
	bool stale;                /* a forked child inherited this state */
	void *lock;
	struct config conf;
	struct slot **slots;
	CK_ULONG nslots;
	struct hmap sessions;      /* (handle, 0) -> struct session */
	CK_ULONG next_session;
	struct hmap objects;       /* (handle, 0) -> struct object_entry */
	struct hmap object_refs;   /* (slot, ref) -> handle */
	CK_ULONG next_object;
	bool drivers_started[16];
	bool events_on;            /* the drivers have started: what they report now is an event */
} m;

static volatile bool exiting;

/*
 * Serialises C_Initialize and C_Finalize: each checks, then builds or tears
 * down, the whole state. An operating-system mutex, as it must exist before
 * C_Initialize has chosen the module's locking.
 */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

bool module_exiting(void)
{
	return exiting;
}

void module_set_exiting(void)
{
	exiting = true;
}

/* Runs when the library's destructors run: anything later must not touch what they freed. */
__attribute__((destructor)) static void on_unload(void)
{
	exiting = true;
}

static void on_fork_child(void)
{
	/* A thread of the parent may have held it: the child has no such thread. */
	pthread_mutex_init(&init_lock, NULL);
	if (m.initialized) {
		m.initialized = false;
		m.stale = true;
	}
}

static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

bool module_ready(void)
{
	return m.initialized;
}

const struct config *module_config(void)
{
	return &m.conf;
}

CK_RV module_lock(void)
{
	return mutex_lock(m.lock);
}

void module_unlock(void)
{
	mutex_unlock(m.lock);
}

static void configure_logging(const struct config *c)
{
	const char *env = secure_getenv("SIGNET_DEBUG");
	enum log_level level = c->log_level;

	if (env != NULL && env[0] != '\0' && !log_level_parse(env, &level))
		level = LOG_DEBUG; /* any other value means "debug": the usual expectation */
	if (log_configure(level, c->log_file) != CKR_OK)
		log_configure(level, "stderr");
}

static CK_RV check_init_args(const CK_C_INITIALIZE_ARGS *args)
{
	if (args == NULL)
		return CKR_OK;
	if (args->pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	return CKR_OK;
}

static void free_session(struct session *s)
{
	for (int i = 0; i < TOKEN_OP_COUNT; i++)
		host_op_free(s->host[i]);
	free(s->find.handles);
	free(s->own_objects);
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

static void drop_object_entry(struct hmap_key k, void *value, void *ctx)
{
	(void)k;
	(void)ctx;
	free(value);
}

/* Frees the tables; quietly: without a word to any token. Tokens are destroyed by their drivers' stop(). */
static void free_tables(bool quietly)
{
	hmap_each(&m.sessions, drop_session_entry, &quietly);
	hmap_free(&m.sessions);
	hmap_each(&m.objects, drop_object_entry, NULL);
	hmap_free(&m.objects);
	hmap_free(&m.object_refs);
	for (CK_ULONG i = 0; i < m.nslots; i++) {
		free(m.slots[i]->native);
		mutex_destroy(m.slots[i]->login_lock);
		free(m.slots[i]);
	}
	free(m.slots);
	m.slots = NULL;
	m.nslots = 0;
}

static void stop_drivers(bool process_exiting)
{
	for (size_t i = 0; drivers[i] != NULL; i++) {
		if (m.drivers_started[i] && drivers[i]->stop != NULL)
			drivers[i]->stop(process_exiting);
		m.drivers_started[i] = false;
	}
}

/* A forked child's copy of the parent's state: its locks may be held by threads that do not exist here. */
static void discard_stale_state(void)
{
	free_tables(true);
	stop_drivers(false);
	config_wipe(&m.conf);
	m.lock = NULL; /* leaked on purpose: it may be locked for ever */
	m.stale = false;
}

static void start_drivers(void)
{
	for (size_t i = 0; drivers[i] != NULL; i++) {
		CK_RV rv = drivers[i]->start(&m.conf);

		/* A driver that cannot start leaves the others working; its log line says why. */
		if (rv != CKR_OK)
			log_msg(LOG_WARNING, "%s tokens unavailable: %s", drivers[i]->name, rv_name(rv));
		else
			m.drivers_started[i] = true;
	}
}

static CK_RV initialize_serialised(const CK_C_INITIALIZE_ARGS *args)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	CK_RV rv;

	rv = check_init_args(args);
	if (rv != CKR_OK)
		return rv;
	if (m.initialized)
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	pthread_once(&once, register_fork_handler);
	if (m.stale)
		discard_stale_state();
	rv = lock_configure(args);
	if (rv != CKR_OK)
		return rv;

	config_defaults(&m.conf);
	configure_logging(&m.conf);
	rv = config_load(&m.conf, config_default_path());
	if (rv != CKR_OK)
		goto fail;
	configure_logging(&m.conf);

	rv = mutex_create(&m.lock);
	if (rv != CKR_OK)
		goto fail;
	hmap_init(&m.sessions);
	hmap_init(&m.objects);
	hmap_init(&m.object_refs);
	/* Never reset: a handle kept from before C_Finalize must not name something new. */
	if (m.next_session < FIRST_HANDLE)
		m.next_session = FIRST_HANDLE;
	if (m.next_object < FIRST_HANDLE)
		m.next_object = FIRST_HANDLE;
	exiting = false;
	m.initialized = true;
	log_msg(LOG_INFO, "initialised from %s", m.conf.source);
	start_drivers();
	if (module_lock() == CKR_OK) {
		m.events_on = true;
		module_unlock();
	}
	return CKR_OK;
fail:
	config_wipe(&m.conf);
	return rv;
}

CK_RV module_initialize(const CK_C_INITIALIZE_ARGS *args)
{
	CK_RV rv;

	if (pthread_mutex_lock(&init_lock) != 0)
		return CKR_CANT_LOCK;
	rv = initialize_serialised(args);
	pthread_mutex_unlock(&init_lock);
	return rv;
}

static CK_RV finalize_serialised(void)
{
	if (!m.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	m.initialized = false;
	m.events_on = false;
	free_tables(exiting);
	stop_drivers(exiting);
	mutex_destroy(m.lock);
	m.lock = NULL;
	config_wipe(&m.conf);
	log_msg(LOG_INFO, "finalised");
	return CKR_OK;
}

CK_RV module_finalize(void)
{
	CK_RV rv;

	if (pthread_mutex_lock(&init_lock) != 0)
		return CKR_CANT_LOCK;
	rv = finalize_serialised();
	pthread_mutex_unlock(&init_lock);
	return rv;
}

/* ---- slots ---- */

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
	CK_ULONG at = m.nslots;

	while (at > 0 && m.slots[at - 1]->id > s->id) {
		m.slots[at] = m.slots[at - 1];
		at--;
	}
	m.slots[at] = s;
	m.nslots++;
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
	rv = mutex_create(&s->login_lock);
	if (rv != CKR_OK) {
		free(s);
		return rv;
	}
	rv = module_lock();
	if (rv != CKR_OK) {
		mutex_destroy(s->login_lock);
		free(s);
		return rv;
	}
	grown = realloc(m.slots, (m.nslots + 1) * sizeof(*m.slots));
	if (grown != NULL)
		m.slots = grown;
	if (grown == NULL || !next_free_id_locked(range, &s->id)) {
		log_msg(LOG_ERROR, "no slot left for another %s token", ops->kind);
		rv = CKR_HOST_MEMORY;
		mutex_destroy(s->login_lock);
		free(s);
		goto out;
	}
	insert_in_id_order_locked(s);
	s->event = m.events_on; /* a reader plugged in after C_Initialize */
	if (id != NULL)
		*id = s->id;
out:
	module_unlock();
	return rv;
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
static void forget_slot_handles_locked(const struct slot *slot)
{
	struct slot_handles c = { slot->id, NULL, 0, m.objects.used };

	c.list = malloc((c.cap + 1) * sizeof(*c.list));
	if (c.list == NULL)
		return; /* the epoch check still refuses them; they merely stay in the map */
	hmap_each(&m.objects, collect_slot_handle, &c);
	for (CK_ULONG i = 0; i < c.n; i++) {
		struct object_entry *e = hmap_remove(&m.objects, (struct hmap_key){ c.list[i], 0 });

		if (e != NULL)
			hmap_remove(&m.object_refs, (struct hmap_key){ e->slot, e->ref });
		free(e);
	}
	free(c.list);
}

/* A new token epoch for the slot: no login, no handle of the old token. Returns the slot or NULL. */
static struct slot *start_new_epoch(CK_SLOT_ID id)
{
	struct slot *slot;

	if (module_lock() != CKR_OK)
		return NULL;
	slot = slot_find_locked(id);
	if (slot != NULL) {
		slot->epoch++;
		slot->login = NO_LOGIN;
		slot->event = m.events_on;
		forget_slot_handles_locked(slot);
	}
	module_unlock();
	return slot;
}

void slot_token_changed(CK_SLOT_ID id)
{
	struct slot *slot = start_new_epoch(id);

	if (slot == NULL)
		return;
	session_close_all_gone(slot);
	mech_forget(slot);
	log_msg(LOG_INFO, "slot %lu: a different token", (unsigned long)id);
}

void slot_set_present(CK_SLOT_ID id, enum slot_presence presence)
{
	struct slot *slot;
	bool was_present, present = presence == SLOT_TOKEN_PRESENT;

	if (module_lock() != CKR_OK)
		return;
	slot = slot_find_locked(id);
	if (slot != NULL) {
		was_present = slot->present;
		slot->present = present;
		slot->removed = presence == SLOT_GONE;
	}
	module_unlock();
	if (slot != NULL && was_present != present)
		slot_token_changed(id);
}

void slot_login_lost(CK_SLOT_ID id)
{
	struct slot *slot;

	if (module_lock() != CKR_OK)
		return;
	slot = slot_find_locked(id);
	if (slot != NULL && slot->login != NO_LOGIN) {
		slot->login = NO_LOGIN;
		log_msg(LOG_INFO, "slot %lu: the token forgot the login", (unsigned long)id);
	}
	module_unlock();
}

bool slot_token_there(struct slot *s)
{
	bool there = false;

	if (module_lock() == CKR_OK) {
		there = s->present && !s->removed;
		module_unlock();
	}
	return there;
}

bool slot_host_exiting(void)
{
	return module_exiting();
}

void slot_note_host_exiting(void)
{
	module_set_exiting();
}

struct slot *slot_find_locked(CK_SLOT_ID id)
{
	for (CK_ULONG i = 0; i < m.nslots; i++)
		if (m.slots[i]->id == id)
			return m.slots[i];
	return NULL;
}

CK_ULONG slot_count_locked(void)
{
	return m.nslots;
}

struct slot *slot_at_locked(CK_ULONG index)
{
	return index < m.nslots ? m.slots[index] : NULL;
}

void slots_refresh(void)
{
	for (size_t i = 0; drivers[i] != NULL; i++)
		if (m.drivers_started[i] && drivers[i]->refresh != NULL)
			drivers[i]->refresh();
}

bool slot_take_event(CK_SLOT_ID *id)
{
	bool found = false;

	if (module_lock() != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < m.nslots && !found; i++) {
		if (m.slots[i]->event) {
			m.slots[i]->event = false;
			*id = m.slots[i]->id;
			found = true;
		}
	}
	module_unlock();
	return found;
}

CK_RV drivers_wait(unsigned timeout_ms)
{
	CK_RV rv = CKR_FUNCTION_NOT_SUPPORTED;

	/* Card readers are the only devices that come and go; one driver waits. */
	for (size_t i = 0; drivers[i] != NULL && rv == CKR_FUNCTION_NOT_SUPPORTED; i++)
		if (m.drivers_started[i] && drivers[i]->wait != NULL)
			rv = drivers[i]->wait(timeout_ms);
	return rv;
}

/* ---- sessions ---- */

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
	rv = slot->ops->session_open(slot->tok, flags, &ss);
	if (rv != CKR_OK) {
		free(s);
		return rv;
	}
	s->slot = slot;
	s->flags = flags;
	s->ss = ss;
	rv = module_lock();
	if (rv != CKR_OK)
		goto fail;
	/* The SO may have logged in while the token was opening this session. */
	if (slot->login == CKU_SO && !(flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
	} else {
		s->handle = m.next_session++;
		if (!hmap_put(&m.sessions, session_key(s->handle), s)) {
			rv = CKR_HOST_MEMORY;
		} else {
			slot->sessions++;
			if (flags & CKF_RW_SESSION)
				slot->rw_sessions++;
			*handle = s->handle;
		}
	}
	module_unlock();
	if (rv == CKR_OK)
		return CKR_OK;
fail:
	slot->ops->session_close(slot->tok, ss, false);
	free(s);
	return rv;
}

CK_RV session_acquire(CK_SESSION_HANDLE handle, struct session **out)
{
	struct session *s;
	CK_RV rv = module_lock();

	if (rv != CKR_OK)
		return rv;
	s = hmap_get(&m.sessions, session_key(handle));
	if (s == NULL || s->closing) {
		rv = CKR_SESSION_HANDLE_INVALID;
	} else {
		s->refs++;
		*out = s;
	}
	module_unlock();
	return rv;
}

/*
 * PKCS#11: closing the last session of an application logs it out. Decided
 * and done under the slot's login lock, so that a login on a session opened
 * meanwhile cannot fall between the decision and the token's logout.
 */
static void logout_if_last(struct slot *slot, void *ss)
{
	bool logout = false;

	if (mutex_lock(slot->login_lock) != CKR_OK)
		return;
	/* LOCKED: slot login */
	if (module_lock() == CKR_OK) {
		if (slot->sessions == 0 && slot->login != NO_LOGIN) {
			slot->login = NO_LOGIN;
			logout = true;
		}
		module_unlock();
	}
	if (logout && slot->ops->logout != NULL && !module_exiting())
		slot->ops->logout(slot->tok, ss);
	mutex_unlock(slot->login_lock);
}

/* Called with the lock held on the last reference of a closing session; returns with it released. */
static void finish_close(struct session *s)
{
	struct slot *slot = s->slot;

	slot->sessions--;
	if (s->flags & CKF_RW_SESSION)
		slot->rw_sessions--;
	module_unlock();
	/* A session whose token left the slot has nothing to log out and no device to talk to. */
	if (!s->token_gone)
		logout_if_last(slot, s->ss);
	if (slot->ops->session_close != NULL)
		slot->ops->session_close(slot->tok, s->ss, s->token_gone || module_exiting());
	for (CK_ULONG i = 0; i < s->n_own_objects; i++)
		object_forget(slot, s->own_objects[i]);
	free_session(s);
}

void session_release(struct session *s)
{
	if (module_lock() != CKR_OK)
		return;
	if (--s->refs == 0 && s->closing) {
		finish_close(s); /* unlocks */
		return;
	}
	module_unlock();
}

/* Caller holds the lock; returns with the lock released. */
static void close_locked(struct session *s, bool token_gone)
{
	s->token_gone = token_gone;
	hmap_remove(&m.sessions, session_key(s->handle));
	s->closing = true;
	if (s->refs == 0)
		finish_close(s);
	else
		module_unlock();
}

static CK_RV close_session(CK_SESSION_HANDLE handle, bool token_gone)
{
	struct session *s;
	CK_RV rv = module_lock();

	if (rv != CKR_OK)
		return rv;
	s = hmap_get(&m.sessions, session_key(handle));
	if (s == NULL) {
		module_unlock();
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
	CK_RV rv = module_lock();

	if (rv != CKR_OK)
		return rv;
	c.handles = malloc((slot->sessions + 1) * sizeof(*c.handles));
	if (c.handles == NULL) {
		module_unlock();
		return CKR_HOST_MEMORY;
	}
	hmap_each(&m.sessions, collect_slot_sessions, &c);
	module_unlock();
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

/* ---- object handles ---- */

CK_RV object_handle_for(const struct slot *slot, token_ref ref, CK_OBJECT_HANDLE *out)
{
	struct hmap_key rk = { slot->id, ref };
	struct object_entry *e;
	void *found;
	CK_RV rv = module_lock();

	if (rv != CKR_OK)
		return rv;
	found = hmap_get(&m.object_refs, rk);
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
	*out = m.next_object;
	if (!hmap_put(&m.objects, (struct hmap_key){ *out, 0 }, e)) {
		free(e);
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (!hmap_put(&m.object_refs, rk, (void *)(uintptr_t)*out)) {
		free(hmap_remove(&m.objects, (struct hmap_key){ *out, 0 }));
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	m.next_object++;
out:
	module_unlock();
	return rv;
}

CK_RV object_ref_of(const struct slot *slot, CK_OBJECT_HANDLE handle, token_ref *out)
{
	struct object_entry *e;
	CK_RV rv = module_lock();

	if (rv != CKR_OK)
		return rv;
	e = hmap_get(&m.objects, (struct hmap_key){ handle, 0 });
	/* A handle of a token that has left the slot never names an object of the one there now. */
	if (e == NULL || e->slot != slot->id || e->epoch != slot->epoch)
		rv = CKR_OBJECT_HANDLE_INVALID;
	else
		*out = e->ref;
	module_unlock();
	return rv;
}

void object_forget(const struct slot *slot, CK_OBJECT_HANDLE handle)
{
	struct object_entry *e;

	if (module_lock() != CKR_OK)
		return;
	e = hmap_get(&m.objects, (struct hmap_key){ handle, 0 });
	if (e != NULL && e->slot == slot->id) {
		hmap_remove(&m.object_refs, (struct hmap_key){ e->slot, e->ref });
		free(hmap_remove(&m.objects, (struct hmap_key){ handle, 0 }));
	}
	module_unlock();
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
	rv = module_lock();
	if (rv != CKR_OK)
		return rv;
	grown = realloc(s->own_objects, (s->n_own_objects + 1) * sizeof(*grown));
	if (grown != NULL) {
		s->own_objects = grown;
		s->own_objects[s->n_own_objects++] = *out;
	}
	/* Without memory the handle merely stays mapped longer: no error for the caller. */
	module_unlock();
	return CKR_OK;
}
