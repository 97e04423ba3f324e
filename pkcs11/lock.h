/*
 * Mutexes as the application asked for them in C_Initialize: its own
 * callbacks, or the operating system's. Failures are reported, never spun on.
 *
 * The operating system's mutexes here know the process they were made in:
 * in a forked child, one made before the fork neither blocks nor is
 * destroyed (the thread that may hold it does not exist in the child), so
 * state inherited from the parent can still be torn down without waiting
 * for ever.
 */
#ifndef SIGNET_LOCK_H
#define SIGNET_LOCK_H

#include "pkcs11/cryptoki.h"

/* Chooses the implementation from C_Initialize's arguments (NULL: OS locking). */
CK_RV lock_configure(const CK_C_INITIALIZE_ARGS *args);
CK_RV lock_new(void **mutex);
void lock_free(void *mutex);
CK_RV lock_take(void *mutex);
void lock_give(void *mutex);

/*
 * Counts the forks since the first mutex was made here: state made under
 * another count came from a parent process.
 */
unsigned lock_fork_generation(void);
/*
 * Puts the fork-aware operating-system mutex functions into args, for a
 * library loaded underneath (SoftHSM takes all its internal locks through them).
 */
void lock_give_os_mutexes(CK_C_INITIALIZE_ARGS *args);

#endif
