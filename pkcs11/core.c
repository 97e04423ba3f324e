#include "pkcs11/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "pkcs11/lock.h"
#include "pkcs11/log.h"

static atomic_bool ready;
static atomic_bool exiting;
static void *module_lock;

/*
 * Every call that uses the module's state holds the gate shared, from
 * core_enter() to core_leave(). C_Finalize takes it exclusively, to wait
 * for the calls in flight before it frees what they use; so does a fork,
 * so that the child does not inherit the locks of a call half done
 * (SoftHSM's, OpenSSL's, the PIN counters'). Writers first: a stream of
 * new calls cannot keep either out. Not re-entrant: a call enters once.
 * An operating-system lock: it outlives the locking that C_Initialize
 * chooses, and the fork handlers need it.
 */
static pthread_rwlock_t gate = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

bool core_ready(void)
{
	return atomic_load(&ready);
}

void core_set_ready(bool now)
{
	atomic_store(&ready, now);
}

bool core_exiting(void)
{
	return atomic_load(&exiting);
}

void core_set_exiting(void)
{
	atomic_store(&exiting, true);
}

/* Runs when the library's destructors run: anything later must not touch what they freed. */
__attribute__((destructor)) static void on_unload(void)
{
	atomic_store(&exiting, true);
}

CK_RV core_enter(void)
{
	if (!atomic_load(&ready))
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (pthread_rwlock_rdlock(&gate) != 0) {
		log_msg(LL_ERROR, "cannot enter the module: too many calls in flight");
		return CKR_GENERAL_ERROR;
	}
	/* C_Finalize may have begun meanwhile: it waits for this call, but must not be overtaken by it. */
	if (!atomic_load(&ready)) {
		pthread_rwlock_unlock(&gate);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	return CKR_OK;
}

void core_leave(void)
{
	pthread_rwlock_unlock(&gate);
}

CK_RV core_lock(void)
{
	return lock_take(module_lock);
}

void core_unlock(void)
{
	lock_give(module_lock);
}

CK_RV core_lock_create(void)
{
	return lock_new(&module_lock);
}

void core_lock_destroy(void)
{
	lock_free(module_lock);
	module_lock = NULL;
}

bool core_lock_exists(void)
{
	return module_lock != NULL;
}

bool core_gate_close(int seconds)
{
	struct timespec deadline;

	if (seconds < 0)
		return pthread_rwlock_wrlock(&gate) == 0;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
	return pthread_rwlock_clockwrlock(&gate, CLOCK_MONOTONIC, &deadline) == 0;
}

void core_gate_open(void)
{
	pthread_rwlock_unlock(&gate);
}

void core_gate_reset(void)
{
	pthread_rwlockattr_t writers_first;

	pthread_rwlockattr_init(&writers_first);
	pthread_rwlockattr_setkind_np(&writers_first, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&gate, &writers_first);
	pthread_rwlockattr_destroy(&writers_first);
}
