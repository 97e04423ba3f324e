/*
 * Mutexes as the application asked for them in C_Initialize: its own
 * callbacks, or the operating system's. Failures are reported, never spun on.
 */
#ifndef SIGNET_LOCK_H
#define SIGNET_LOCK_H

#include "pkcs11/cryptoki.h"

/* Chooses the implementation from C_Initialize's arguments (NULL: OS locking). */
CK_RV lock_configure(const CK_C_INITIALIZE_ARGS *args);
CK_RV mutex_create(void **mutex);
void mutex_destroy(void *mutex);
CK_RV mutex_lock(void *mutex);
void mutex_unlock(void *mutex);

#endif
