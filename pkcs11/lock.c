#include "pkcs11/lock.h"

#include <pthread.h>
#include <stdlib.h>

#include "pkcs11/log.h"

static CK_RV os_create(CK_VOID_PTR_PTR out)
{
	pthread_mutex_t *m = malloc(sizeof(*m));

	if (m == NULL)
		return CKR_HOST_MEMORY;
	if (pthread_mutex_init(m, NULL) != 0) {
		free(m);
		return CKR_CANT_LOCK;
	}
	*out = m;
	return CKR_OK;
}

static CK_RV os_destroy(CK_VOID_PTR m)
{
	pthread_mutex_destroy(m);
	free(m);
	return CKR_OK;
}

static CK_RV os_lock(CK_VOID_PTR m)
{
	return pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV os_unlock(CK_VOID_PTR m)
{
	return pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;
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

CK_RV mutex_create(void **mutex)
{
	CK_RV rv = impl.create(mutex);

	if (rv != CKR_OK) {
		log_msg(LOG_ERROR, "cannot create a mutex: %s", rv_name(rv));
		return CKR_CANT_LOCK;
	}
	return CKR_OK;
}

void mutex_destroy(void *mutex)
{
	if (mutex != NULL)
		impl.destroy(mutex);
}

CK_RV mutex_lock(void *mutex)
{
	CK_RV rv = impl.lock(mutex);

	if (rv != CKR_OK)
		log_msg(LOG_ERROR, "cannot lock a mutex: %s", rv_name(rv));
	return rv == CKR_OK ? CKR_OK : CKR_GENERAL_ERROR;
}

void mutex_unlock(void *mutex)
{
	CK_RV rv = impl.unlock(mutex);

	if (rv != CKR_OK)
		log_msg(LOG_ERROR, "cannot unlock a mutex: %s", rv_name(rv));
}
