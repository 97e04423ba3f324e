/*
 * C_Initialize and C_Finalize: the configuration, the tables of the core
 * built and torn down, the drivers started and stopped, and what a fork
 * does to all of it.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pkcs11/config.h"
#include "pkcs11/core.h"
#include "pkcs11/drivers.h"
#include "pkcs11/entry.h"
#include "pkcs11/handle.h"
#include "pkcs11/lock.h"
#include "pkcs11/log.h"
#include "pkcs11/pin_store.h"
#include "pkcs11/session.h"
#include "pkcs11/slots.h"

/*
 * How long a fork waits for calls in flight (a call blocked on a device
 * delays a fork by this much at most), and how long C_Finalize waits before
 * it says so in the log; from the host's exit handlers it waits no longer.
 */
#define FORK_WAIT_SECONDS 2
#define FINALIZE_WAIT_SECONDS 1

static struct config conf;
static bool stale;                 /* a forked child inherited this state */
static bool gate_closed_for_fork;

/*
 * Serialises C_Initialize and C_Finalize: each checks, then builds or tears
 * down, the whole state. An operating-system mutex, as it must exist before
 * C_Initialize has chosen the module's locking.
 */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_fork_prepare(void)
{
	gate_closed_for_fork = core_gate_close(FORK_WAIT_SECONDS);
	if (!gate_closed_for_fork)
		log_msg(LL_WARNING, "fork while calls have been in flight for %d s: the child may find locks "
			"they hold taken", FORK_WAIT_SECONDS);
}

static void on_fork_parent(void)
{
	if (gate_closed_for_fork)
		core_gate_open();
}

static void on_fork_child(void)
{
	/* A thread of the parent may have held them: the child has no such thread. */
	pthread_mutex_init(&init_lock, NULL);
	core_gate_reset();
	if (core_lock_exists()) { /* state was built, or is half built by a C_Initialize in another thread */
		core_set_ready(false);
		stale = true;
	}
}

static void register_fork_handler(void)
{
	/* After the counter store's: our prepare handler runs first, while calls can still take its lock. */
	pin_store_register_fork_handlers();
	pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
}

static void configure_logging(const struct config *c)
{
	const char *env = secure_getenv("SIGNET_DEBUG");
	enum log_level level = c->log_level;

	if (env != NULL && env[0] != '\0' && !log_level_parse(env, &level))
		level = LL_DEBUG; /* any other value means "debug": the usual expectation */
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

/* Frees the tables; quietly: without a word to any token. Tokens are destroyed by their drivers' stop(). */
static void free_tables(bool quietly)
{
	sessions_free(quietly);
	objects_free();
	slots_free();
}

/* A forked child's copy of the parent's state: its locks may be held by threads that do not exist here. */
static void discard_stale_state(void)
{
	free_tables(true);
	drivers_stop(false);
	config_wipe(&conf);
	core_lock_destroy(); /* the operating system's mutexes never block on an inherited one */
	stale = false;
}

static CK_RV initialize_serialised(const CK_C_INITIALIZE_ARGS *args)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	CK_RV rv;

	rv = check_init_args(args);
	if (rv != CKR_OK)
		return rv;
	if (core_ready())
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	pthread_once(&once, register_fork_handler);
	if (stale)
		discard_stale_state();
	rv = lock_configure(args);
	if (rv != CKR_OK)
		return rv;

	config_defaults(&conf);
	configure_logging(&conf);
	rv = config_load(&conf, config_default_path());
	if (rv != CKR_OK)
		goto fail;
	configure_logging(&conf);

	rv = core_lock_create();
	if (rv != CKR_OK)
		goto fail;
	sessions_init();
	objects_init();
	log_msg(LL_INFO, "initialised from %s", conf.source);
	drivers_start(&conf);
	slots_report_events(true);
	core_set_ready(true); /* calls are let in once the slots are there */
	return CKR_OK;
fail:
	config_wipe(&conf);
	return rv;
}

/*
 * Waits for the calls in flight to leave. From the host's exit handlers
 * only for a moment: a thread may be stuck in a token for good, and the
 * process's end takes everything anyway.
 */
static bool drain_calls(bool at_exit)
{
	if (core_gate_close(FINALIZE_WAIT_SECONDS))
		return true;
	if (at_exit) {
		log_msg(LL_WARNING, "C_Finalize at exit: calls still in flight after %d s; their state is left "
			"to the end of the process", FINALIZE_WAIT_SECONDS);
		return false;
	}
	log_msg(LL_WARNING, "C_Finalize waits for calls still in flight after %d s", FINALIZE_WAIT_SECONDS);
	return core_gate_close(-1);
}

static CK_RV finalize_serialised(void)
{
	bool at_exit = core_exiting();

	if (!core_ready())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	core_set_ready(false); /* from now on calls are refused */
	if (!drain_calls(at_exit))
		return CKR_OK;
	slots_report_events(false);
	free_tables(at_exit);
	drivers_stop(at_exit);
	core_lock_destroy();
	config_wipe(&conf);
	core_gate_open();
	log_msg(LL_INFO, "finalised");
	return CKR_OK;
}

static CK_RV initialize(const CK_C_INITIALIZE_ARGS *args)
{
	CK_RV rv;

	if (pthread_mutex_lock(&init_lock) != 0)
		return CKR_CANT_LOCK;
	rv = initialize_serialised(args);
	pthread_mutex_unlock(&init_lock);
	return rv;
}

static CK_RV finalize(void)
{
	CK_RV rv;

	if (pthread_mutex_lock(&init_lock) != 0)
		return CKR_CANT_LOCK;
	rv = finalize_serialised();
	pthread_mutex_unlock(&init_lock);
	return rv;
}

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	const CK_C_INITIALIZE_ARGS *a = pInitArgs;
	CK_RV rv = initialize(a);

	/* Traced afterwards: until the configuration is read, the log's level and place are unknown. */
	entry_trace_call(__func__, "pInitArgs=%p flags=0x%lx", pInitArgs, a ? (unsigned long)a->flags : 0UL);
	return entry_trace_ret(__func__, rv);
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	CK_RV rv;

	entry_trace_call(__func__, "pReserved=%p", pReserved);
	if (pReserved != NULL)
		return entry_trace_ret(__func__, CKR_ARGUMENTS_BAD);
	rv = entry_trace_ret(__func__, finalize());
	if (rv == CKR_OK)
		log_close(); /* after the last line of this module's life */
	return rv;
}
