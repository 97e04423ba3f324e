#include "pkcs11/lock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pkcs11/log.h"

static atomic_uint fork_generation;

/* Runs in a forked child before anything else there: everything made before is the parent's. */
static void note_fork(void)
{
	atomic_fetch_add(&fork_generation, 1);
}

static void register_fork_counter(void)
{
	pthread_atfork(NULL, NULL, note_fork);
}

unsigned lock_fork_generation(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_fork_counter);
	return atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

/*
 * The pthread mutex comes first and the whole is malloc'd: SoftHSM, which
 * is given these functions, resets itself to its own in its destructor and
 * then destroys (pthread_mutex_destroy, free) and locks the mutexes it
 * still has as if they were plain pthread mutexes.
 */
struct os_mutex {
	pthread_mutex_t m;
	unsigned generation;   /* lock_fork_generation() when made */
};

/* Made before a fork, in the parent: whoever holds it is not in this process. */
static bool inherited(const struct os_mutex *om)
{
	/* Counted from the mutex's creation on (lock_fork_generation registered the counter). */
	return om->generation != atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

static CK_RV os_create(CK_VOID_PTR_PTR out)
{
	struct os_mutex *om = malloc(sizeof(*om));

	if (om == NULL)
		return CKR_HOST_MEMORY;
	if (pthread_mutex_init(&om->m, NULL) != 0) {
		free(om);
		return CKR_CANT_LOCK;
	}
	om->generation = lock_fork_generation();
	*out = om;
	return CKR_OK;
}

static CK_RV os_destroy(CK_VOID_PTR m)
{
	struct os_mutex *om = m;

	if (!inherited(om))
		pthread_mutex_destroy(&om->m);
	free(om);
	return CKR_OK;
}

static CK_RV os_lock(CK_VOID_PTR m)
{
	struct os_mutex *om = m;

	if (inherited(om))
		return CKR_OK; /* only the parent's leftovers use it here, and nobody else can */
	return pthread_mutex_lock(&om->m) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV os_unlock(CK_VOID_PTR m)
{
	struct os_mutex *om = m;

	if (inherited(om))
		return CKR_OK;
	return pthread_mutex_unlock(&om->m) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;
}

void lock_give_os_mutexes(CK_C_INITIALIZE_ARGS *args)
{
	args->CreateMutex = os_create;
	args->DestroyMutex = os_destroy;
	args->LockMutex = os_lock;
	args->UnlockMutex = os_unlock;
}

static struct {
	CK_CREATEMUTEX create;
	CK_DESTROYMUTEX destroy;
	CK_LOCKMUTEX lock;
	CK_UNLOCKMUTEX unlock;
} impl = { os_create, os_destroy, os_lock, os_unlock };

CK_RV lock_configure(const CK_C_INITIALIZE_ARGS *args)
{
	bool any, all;

	impl.create = os_create;
	impl.destroy = os_destroy;
	impl.lock = os_lock;
	impl.unlock = os_unlock;
	if (args == NULL)
		return CKR_OK;
	any = args->CreateMutex || args->DestroyMutex || args->LockMutex || args->UnlockMutex;
	all = args->CreateMutex && args->DestroyMutex && args->LockMutex && args->UnlockMutex;
	if (any && !all)
		return CKR_ARGUMENTS_BAD;
	/* With CKF_OS_LOCKING_OK the standard lets us choose; the OS mutexes are cheaper. */
	if (all && !(args->flags & CKF_OS_LOCKING_OK)) {
		impl.create = args->CreateMutex;
		impl.destroy = args->DestroyMutex;
		impl.lock = args->LockMutex;
		impl.unlock = args->UnlockMutex;
	}
	return CKR_OK;
}

CK_RV lock_new(void **mutex)
{
	CK_RV rv = impl.create(mutex);

	if (rv != CKR_OK) {
		log_msg(LL_ERROR, "cannot create a mutex: %s", log_rv_name(rv));
		return CKR_CANT_LOCK;
	}
	return CKR_OK;
}

void lock_free(void *mutex)
{
	if (mutex != NULL)
		impl.destroy(mutex);
}

CK_RV lock_take(void *mutex)
{
	CK_RV rv = impl.lock(mutex);

	if (rv != CKR_OK)
		log_msg(LL_ERROR, "cannot lock a mutex: %s", log_rv_name(rv));
	return rv == CKR_OK ? CKR_OK : CKR_GENERAL_ERROR;
}

void lock_give(void *mutex)
{
	CK_RV rv = impl.unlock(mutex);

	if (rv != CKR_OK)
		log_msg(LL_ERROR, "cannot unlock a mutex: %s", log_rv_name(rv));
}
