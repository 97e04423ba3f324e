/*
 * bench_p11 MODE ...: the measuring half of `make bench` (tests/bench/run
 * drives it and prints the table). Every timing uses CLOCK_MONOTONIC. Any
 * PKCS#11 error ends the program with status 1, so a benchmark that did no
 * real work cannot pass for a fast one. The user PIN comes from the
 * environment (SIGNET_BENCH_PIN) and is never printed.
 *
 *   sign MODULE SOFTHSM LABEL KEYID ecdsa|rsa SECONDS RUNS
 *       C_SignInit+C_Sign pairs per second through MODULE and through the
 *       SoftHSM library MODULE loaded (the same instance, reached directly),
 *       runs interleaved; prints each run and the medians.
 *   threads MODULE SOFTHSM LABEL KEYID SECONDS RUNS
 *       ECDSA signatures per second with one thread on one session and with
 *       two threads on two sessions, through MODULE and through SoftHSM.
 *   digest MODULE LABEL FILE
 *       C_DigestInit(CKM_SHA256), C_DigestUpdate in 64 KiB chunks read from
 *       FILE, C_DigestFinal; prints the seconds taken and the digest in hex.
 *   signupdate MODULE LABEL KEYID FILE SIGFILE
 *       The same with C_SignInit(CKM_ECDSA_SHA256) and C_SignUpdate; the
 *       signature goes to SIGFILE in DER so that openssl can verify it.
 *
 * KEYID is the key's CKA_ID in hex. Lines starting with "result" are the
 * ones the driver reads.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/ecdsa.h"
#include "crypto/wipe.h"
#include "pkcs11/cryptoki.h"

#define MAX_RUNS 31
#define MAX_THREADS 2
#define MAX_KEY_ID 64
/*
 * What an application hashing a file passes per call. Like openssl dgst's
 * own buffer it stays in the CPU cache between read() and the hash; a
 * 1 MiB buffer measured the memory bus twice instead of the module.
 */
#define CHUNK_SIZE (64 * 1024)

/* One library to measure: its function list, a session per thread and the key. */
struct target {
	const char *name;
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess[MAX_THREADS];
	int n_sess;
	CK_OBJECT_HANDLE key;
};

enum sign_kind { SIGN_ECDSA, SIGN_RSA };

/* What one signing thread does and what it counted. */
struct sign_job {
	const struct target *t;
	CK_SESSION_HANDLE sess;
	enum sign_kind kind;
	double seconds;
	pthread_barrier_t *start;
	unsigned long count;
	CK_RV rv;
};

static void *module_dl;

static double clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

static int fail_rv(const char *what, CK_RV rv)
{
	fprintf(stderr, "bench_p11: %s failed: 0x%08lx\n", what, (unsigned long)rv);
	return 1;
}

static int fail_msg(const char *what)
{
	fprintf(stderr, "bench_p11: %s\n", what);
	return 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int parse_hex(const char *hex, CK_BYTE *out, size_t cap, size_t *len)
{
	size_t n = strlen(hex);
	unsigned int byte;

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return fail_msg("KEYID must be a non-empty even number of hex digits");
	for (size_t i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
			return fail_msg("KEYID is not hex");
		out[i] = (CK_BYTE)byte;
	}
	*len = n / 2;
	return 0;
}

static int parse_count(const char *s, const char *what, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v > 0) || v > max) {
		fprintf(stderr, "bench_p11: bad %s: %s\n", what, s);
		return 1;
	}
	*out = v;
	return 0;
}

/* Loads signet and initialises it for threads (the OS locking it finds itself). */
static int load_module(const char *path, CK_FUNCTION_LIST **f)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get;
	CK_RV rv;

	module_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (module_dl == NULL) {
		fprintf(stderr, "bench_p11: cannot load %s: %s\n", path, dlerror());
		return 1;
	}
	*(void **)&get = dlsym(module_dl, "C_GetFunctionList");
	if (get == NULL)
		return fail_msg("no C_GetFunctionList in the module");
	rv = get(f);
	if (rv != CKR_OK)
		return fail_rv("C_GetFunctionList", rv);
	rv = (*f)->C_Initialize(&args);
	if (rv != CKR_OK)
		return fail_rv("C_Initialize", rv);
	return 0;
}

/*
 * SoftHSM as signet loaded it: RTLD_NOLOAD finds the copy already in the
 * process, and C_Initialize must answer that it is initialised already;
 * anything else means it is not the instance signet is using.
 */
static int attach_softhsm(const char *path, CK_FUNCTION_LIST **f)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get;
	void *dl = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	CK_RV rv;

	if (dl == NULL) {
		fprintf(stderr, "bench_p11: %s is not loaded in this process: %s\n", path, dlerror());
		return 1;
	}
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (get == NULL)
		return fail_msg("no C_GetFunctionList in SoftHSM");
	rv = get(f);
	if (rv != CKR_OK)
		return fail_rv("SoftHSM C_GetFunctionList", rv);
	rv = (*f)->C_Initialize(&args);
	if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return fail_rv("SoftHSM C_Initialize (expected CKR_CRYPTOKI_ALREADY_INITIALIZED)", rv);
	return 0;
}

static bool label_is(const CK_UTF8CHAR label[32], const char *want)
{
	size_t n = strlen(want);

	if (n > 32 || memcmp(label, want, n) != 0)
		return false;
	for (size_t i = n; i < 32; i++)
		if (label[i] != ' ')
			return false;
	return true;
}

static int find_slot(struct target *t, const char *label)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_TOKEN_INFO info;
	CK_RV rv = t->f->C_GetSlotList(CK_TRUE, slots, &n);

	if (rv != CKR_OK)
		return fail_rv("C_GetSlotList", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		if (t->f->C_GetTokenInfo(slots[i], &info) == CKR_OK && label_is(info.label, label)) {
			t->slot = slots[i];
			return 0;
		}
	}
	fprintf(stderr, "bench_p11: %s shows no token labelled %s\n", t->name, label);
	return 1;
}

/* Logs in once for the whole token; the other target may have done it already. */
static int login(struct target *t)
{
	const char *env = getenv("SIGNET_BENCH_PIN");
	CK_UTF8CHAR pin[64];
	size_t len;
	CK_RV rv;

	if (env == NULL || (len = strlen(env)) == 0 || len > sizeof(pin))
		return fail_msg("SIGNET_BENCH_PIN is not set or too long");
	memcpy(pin, env, len);
	rv = t->f->C_Login(t->sess[0], CKU_USER, pin, (CK_ULONG)len);
	cr_wipe(pin, sizeof(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return fail_rv("C_Login", rv);
	return 0;
}

static int find_key(struct target *t, const CK_BYTE *id, size_t id_len)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, (CK_ULONG)id_len },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv = t->f->C_FindObjectsInit(t->sess[0], tmpl, 2);

	if (rv != CKR_OK)
		return fail_rv("C_FindObjectsInit", rv);
	rv = t->f->C_FindObjects(t->sess[0], found, 2, &n);
	t->f->C_FindObjectsFinal(t->sess[0]);
	if (rv != CKR_OK)
		return fail_rv("C_FindObjects", rv);
	if (n != 1) {
		fprintf(stderr, "bench_p11: %s: %lu private keys with that CKA_ID, want 1\n", t->name,
			(unsigned long)n);
		return 1;
	}
	t->key = found[0];
	return 0;
}

/* Opens n_sess sessions on the token LABEL, logs in if a key is wanted and finds it. */
static int open_target(struct target *t, const char *label, const CK_BYTE *id, size_t id_len)
{
	CK_RV rv;

	if (find_slot(t, label))
		return 1;
	for (int i = 0; i < t->n_sess; i++) {
		rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->sess[i]);
		if (rv != CKR_OK)
			return fail_rv("C_OpenSession", rv);
	}
	if (id == NULL)
		return 0;
	if (login(t))
		return 1;
	return find_key(t, id, id_len);
}

static void close_target(struct target *t)
{
	for (int i = 0; i < t->n_sess; i++)
		if (t->sess[i] != CK_INVALID_HANDLE) /* a setup that failed half-way leaves some unopened */
			t->f->C_CloseSession(t->sess[i]);
	t->n_sess = 0;
}

/* The input of one signature: a SHA-256 hash for CKM_ECDSA, its DigestInfo for CKM_RSA_PKCS. */
static const CK_BYTE digest_info[51] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0x04, 0x20, 0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65, 0x9a, 0x2f, 0xea,
	0xa0, 0xc5, 0x5a, 0xd0, 0x15, 0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b, 0x82, 0x2c, 0xd1, 0x5d,
	0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08,
};

static CK_RV sign_once(const struct target *t, CK_SESSION_HANDLE sess, enum sign_kind kind)
{
	CK_MECHANISM mech = { kind == SIGN_ECDSA ? CKM_ECDSA : CKM_RSA_PKCS, NULL, 0 };
	CK_BYTE *in = (CK_BYTE *)digest_info;
	CK_ULONG in_len = sizeof(digest_info);
	CK_BYTE sig[512];
	CK_ULONG sig_len = sizeof(sig);
	CK_RV rv;

	if (kind == SIGN_ECDSA) {
		in += 19; /* the bare hash after the DigestInfo header */
		in_len -= 19;
	}
	rv = t->f->C_SignInit(sess, &mech, t->key);
	if (rv != CKR_OK)
		return rv;
	rv = t->f->C_Sign(sess, in, in_len, sig, &sig_len);
	if (rv == CKR_OK && sig_len != (kind == SIGN_ECDSA ? 64 : 256))
		rv = CKR_SIGNATURE_LEN_RANGE; /* not the signature we meant to make */
	return rv;
}

static void *sign_thread(void *arg)
{
	struct sign_job *j = arg;
	double end;

	pthread_barrier_wait(j->start);
	end = now() + j->seconds;
	j->rv = CKR_OK;
	while (now() < end) {
		j->rv = sign_once(j->t, j->sess, j->kind);
		if (j->rv != CKR_OK)
			break;
		j->count++;
	}
	return NULL;
}

/* Idle processor seconds of the whole machine since boot, from /proc/stat; 0 if unreadable. */
static double machine_idle_seconds(void)
{
	unsigned long long user, nice, sys, idle, iowait;
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (f == NULL)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait);
	fclose(f);
	if (n != 5)
		return 0;
	return (double)(idle + iowait) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * What one timed run measured: signatures per second; the processor time
 * the process got and the processor time nobody used on the machine, both
 * per second of wall time. Together they tell a busy machine (little idle,
 * fewer CPUs than threads) from threads that wait on each other (idle left
 * over while they run).
 */
struct run_stat {
	double rate;
	double cpus;
	double idle;
};

/* Signatures per second made by n_threads threads, each on its own session, for `seconds`. */
static int sign_rate(const struct target *t, int n_threads, enum sign_kind kind, double seconds,
		     struct run_stat *st)
{
	struct sign_job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	pthread_barrier_t start;
	unsigned long total = 0;
	double t0, t1, c0, c1, i0, i1;
	int rc = 0;

	if (pthread_barrier_init(&start, NULL, (unsigned)n_threads + 1) != 0)
		return fail_msg("pthread_barrier_init failed");
	for (int i = 0; i < n_threads; i++) {
		jobs[i] = (struct sign_job){ t, t->sess[i], kind, seconds, &start, 0, CKR_OK };
		if (pthread_create(&tid[i], NULL, sign_thread, &jobs[i]) != 0) {
			/* Threads already waiting at the barrier can never be released: give up. */
			fail_msg("pthread_create failed");
			exit(1);
		}
	}
	i0 = machine_idle_seconds();
	t0 = now();
	c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	pthread_barrier_wait(&start);
	for (int i = 0; i < n_threads; i++)
		pthread_join(tid[i], NULL);
	t1 = now();
	c1 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	i1 = machine_idle_seconds();
	pthread_barrier_destroy(&start);
	for (int i = 0; i < n_threads; i++) {
		if (jobs[i].rv != CKR_OK)
			rc = fail_rv(t->name, jobs[i].rv);
		total += jobs[i].count;
	}
	st->rate = (double)total / (t1 - t0);
	st->cpus = (c1 - c0) / (t1 - t0);
	st->idle = (i1 - i0) / (t1 - t0);
	return rc;
}

static int setup_pair(struct target *sig, struct target *shm, char **argv, int n_sess, enum sign_kind kind)
{
	CK_BYTE id[MAX_KEY_ID];
	size_t id_len;
	CK_RV rv;

	sig->name = "signet";
	shm->name = "softhsm";
	sig->n_sess = shm->n_sess = n_sess;
	if (parse_hex(argv[3], id, sizeof(id), &id_len) || load_module(argv[0], &sig->f) ||
	    attach_softhsm(argv[1], &shm->f))
		return 1;
	if (open_target(sig, argv[2], id, id_len) || open_target(shm, argv[2], id, id_len))
		return 1;
	/* One untimed signature on each session: first-use costs stay out of the runs. */
	for (int i = 0; i < n_sess; i++) {
		rv = sign_once(sig, sig->sess[i], kind);
		if (rv == CKR_OK)
			rv = sign_once(shm, shm->sess[i], kind);
		if (rv != CKR_OK)
			return fail_rv("the first signature", rv);
	}
	return 0;
}

static void teardown_pair(struct target *sig, struct target *shm)
{
	if (shm->f != NULL)
		close_target(shm); /* before signet finalizes the SoftHSM both use */
	if (sig->f != NULL) {
		close_target(sig);
		sig->f->C_Finalize(NULL);
	}
}

static int parse_runs(const char *s, int *runs)
{
	double v;

	if (parse_count(s, "RUNS", MAX_RUNS, &v))
		return 1;
	*runs = (int)v;
	return *runs < 1 ? fail_msg("RUNS must be at least 1") : 0;
}

/* sign MODULE SOFTHSM LABEL KEYID ecdsa|rsa SECONDS RUNS */
static int mode_sign(char **argv)
{
	struct target sig = { 0 }, shm = { 0 };
	enum sign_kind kind = strcmp(argv[4], "rsa") == 0 ? SIGN_RSA : SIGN_ECDSA;
	struct run_stat sa, sb;
	double seconds, a[MAX_RUNS], b[MAX_RUNS], ratio[MAX_RUNS];
	int runs, rc;

	if (strcmp(argv[4], "rsa") != 0 && strcmp(argv[4], "ecdsa") != 0)
		return fail_msg("the kind is ecdsa or rsa");
	if (parse_count(argv[5], "SECONDS", 60, &seconds) || parse_runs(argv[6], &runs))
		return 1;
	rc = setup_pair(&sig, &shm, argv, 1, kind);
	for (int i = 0; rc == 0 && i < runs; i++) {
		/* Alternate which goes first so drift on a shared machine hits both alike. */
		if (i % 2 == 0)
			rc = sign_rate(&sig, 1, kind, seconds, &sa) || sign_rate(&shm, 1, kind, seconds, &sb);
		else
			rc = sign_rate(&shm, 1, kind, seconds, &sb) || sign_rate(&sig, 1, kind, seconds, &sa);
		if (rc == 0) {
			a[i] = sa.rate;
			b[i] = sb.rate;
			ratio[i] = a[i] / b[i];
			printf("run %d signet %.1f/s softhsm %.1f/s ratio %.3f\n", i + 1, a[i], b[i], ratio[i]);
		}
	}
	/* The ratio is the median of the ratios of neighbouring runs, which share the machine's mood. */
	if (rc == 0)
		printf("result sign-%s signet %.1f softhsm %.1f ratio %.3f\n", argv[4], median(a, runs),
		       median(b, runs), median(ratio, runs));
	teardown_pair(&sig, &shm);
	return rc;
}

static void print_threads_result(const struct target *t, const struct run_stat one[], const struct run_stat two[],
				 int runs)
{
	double r1[MAX_RUNS], r2[MAX_RUNS], ratio[MAX_RUNS], cpus[MAX_RUNS], idle[MAX_RUNS];
	int most = 0;

	for (int i = 0; i < runs; i++) {
		r1[i] = one[i].rate;
		r2[i] = two[i].rate;
		ratio[i] = r2[i] / r1[i];
		cpus[i] = two[i].cpus;
		idle[i] = two[i].idle;
		if (two[i].cpus > two[most].cpus)
			most = i;
	}
	/* The run whose two threads got the most processor time is the nearest to a quiet machine. */
	printf("result threads-%s one %.1f two %.1f ratio %.3f cpu-two %.2f idle-two %.2f most-cpu %.2f most-ratio %.3f\n",
	       t->name, median(r1, runs), median(r2, runs), median(ratio, runs), median(cpus, runs),
	       median(idle, runs), two[most].cpus, ratio[most]);
}

/* threads MODULE SOFTHSM LABEL KEYID SECONDS RUNS */
static int mode_threads(char **argv)
{
	struct target sig = { 0 }, shm = { 0 };
	struct target *tg[2] = { &sig, &shm };
	struct run_stat one[2][MAX_RUNS], two[2][MAX_RUNS]; /* [target][run] */
	double seconds;
	int runs, rc;

	if (parse_count(argv[4], "SECONDS", 60, &seconds) || parse_runs(argv[5], &runs))
		return 1;
	rc = setup_pair(&sig, &shm, argv, 2, SIGN_ECDSA);
	for (int i = 0; rc == 0 && i < runs; i++) {
		for (int k = 0; rc == 0 && k < 2; k++)
			rc = sign_rate(tg[k], 1, SIGN_ECDSA, seconds, &one[k][i]) ||
			     sign_rate(tg[k], 2, SIGN_ECDSA, seconds, &two[k][i]);
		for (int k = 0; rc == 0 && k < 2; k++)
			printf("run %d %s 1 thread %.1f/s, 2 threads %.1f/s (process %.2f CPUs, machine idle %.2f)\n",
			       i + 1, tg[k]->name, one[k][i].rate, two[k][i].rate, two[k][i].cpus, two[k][i].idle);
	}
	for (int k = 0; rc == 0 && k < 2; k++)
		print_threads_result(tg[k], one[k], two[k], runs);
	teardown_pair(&sig, &shm);
	return rc;
}

/* Feeds FILE to update() in CHUNK_SIZE parts; *bytes gets how much was read. */
static int feed_file(const struct target *t, const char *path, CK_C_DigestUpdate update, unsigned long long *bytes)
{
	CK_BYTE *buf = malloc(CHUNK_SIZE);
	int fd = open(path, O_RDONLY);
	ssize_t n;
	int rc = 0;
	CK_RV rv;

	*bytes = 0;
	if (buf == NULL || fd < 0) {
		fprintf(stderr, "bench_p11: cannot read %s: %s\n", path, strerror(errno));
		rc = 1;
		goto out;
	}
	while ((n = read(fd, buf, CHUNK_SIZE)) > 0) {
		rv = update(t->sess[0], buf, (CK_ULONG)n);
		if (rv != CKR_OK) {
			rc = fail_rv("update", rv);
			goto out;
		}
		*bytes += (unsigned long long)n;
	}
	if (n < 0)
		rc = fail_msg("read error");
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

static void print_result(const char *what, double seconds, unsigned long long bytes)
{
	printf("result %s seconds %.4f bytes %llu MBps %.1f\n", what, seconds, bytes, (double)bytes / 1e6 / seconds);
}

/* digest MODULE LABEL FILE */
static int mode_digest(char **argv)
{
	struct target t = { .name = "signet", .n_sess = 1 };
	CK_MECHANISM mech = { CKM_SHA256, NULL, 0 };
	CK_BYTE md[32];
	CK_ULONG md_len = sizeof(md);
	unsigned long long bytes = 0;
	double t0, t1;
	CK_RV rv;
	int rc;

	rc = load_module(argv[0], &t.f) || open_target(&t, argv[1], NULL, 0);
	if (rc != 0)
		goto out;
	t0 = now();
	rv = t.f->C_DigestInit(t.sess[0], &mech);
	if (rv != CKR_OK) {
		rc = fail_rv("C_DigestInit", rv);
		goto out;
	}
	rc = feed_file(&t, argv[2], t.f->C_DigestUpdate, &bytes);
	if (rc != 0)
		goto out;
	rv = t.f->C_DigestFinal(t.sess[0], md, &md_len);
	t1 = now();
	if (rv != CKR_OK || md_len != 32) {
		rc = fail_rv("C_DigestFinal", rv);
		goto out;
	}
	print_result("digest", t1 - t0, bytes);
	printf("sha256 ");
	for (CK_ULONG i = 0; i < md_len; i++)
		printf("%02x", md[i]);
	printf("\n");
out:
	if (t.f != NULL) {
		close_target(&t);
		t.f->C_Finalize(NULL);
	}
	return rc;
}

static int write_der_signature(const char *path, const CK_BYTE *raw, CK_ULONG raw_len)
{
	uint8_t der[CR_ECDSA_MAX_DER_SIZE];
	size_t der_len = sizeof(der);
	FILE *f;
	int ok;

	if (cr_ecdsa_raw_to_der(raw, raw_len, der, &der_len) != 0)
		return fail_msg("the signature is not r||s");
	f = fopen(path, "wb");
	if (f == NULL)
		return fail_msg("cannot write the signature file");
	ok = fwrite(der, 1, der_len, f) == der_len;
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : fail_msg("cannot write the signature file");
}

/* signupdate MODULE LABEL KEYID FILE SIGFILE */
static int mode_signupdate(char **argv)
{
	struct target t = { .name = "signet", .n_sess = 1 };
	CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE id[MAX_KEY_ID], sig[64];
	CK_ULONG sig_len = sizeof(sig);
	size_t id_len;
	unsigned long long bytes = 0;
	double t0, t1;
	CK_RV rv;
	int rc;

	rc = parse_hex(argv[2], id, sizeof(id), &id_len) || load_module(argv[0], &t.f) ||
	     open_target(&t, argv[1], id, id_len);
	if (rc != 0)
		goto out;
	t0 = now();
	rv = t.f->C_SignInit(t.sess[0], &mech, t.key);
	if (rv != CKR_OK) {
		rc = fail_rv("C_SignInit", rv);
		goto out;
	}
	rc = feed_file(&t, argv[3], t.f->C_SignUpdate, &bytes);
	if (rc != 0)
		goto out;
	rv = t.f->C_SignFinal(t.sess[0], sig, &sig_len);
	t1 = now();
	if (rv != CKR_OK || sig_len != 64) {
		rc = fail_rv("C_SignFinal", rv);
		goto out;
	}
	print_result("signupdate", t1 - t0, bytes);
	rc = write_der_signature(argv[4], sig, sig_len);
out:
	if (t.f != NULL) {
		close_target(&t);
		t.f->C_Finalize(NULL);
	}
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_p11 sign MODULE SOFTHSM LABEL KEYID ecdsa|rsa SECONDS RUNS\n"
			"       bench_p11 threads MODULE SOFTHSM LABEL KEYID SECONDS RUNS\n"
			"       bench_p11 digest MODULE LABEL FILE\n"
			"       bench_p11 signupdate MODULE LABEL KEYID FILE SIGFILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "sign") == 0 && argc == 9)
		rc = mode_sign(argv + 2);
	else if (strcmp(argv[1], "threads") == 0 && argc == 8)
		rc = mode_threads(argv + 2);
	else if (strcmp(argv[1], "digest") == 0 && argc == 5)
		rc = mode_digest(argv + 2);
	else if (strcmp(argv[1], "signupdate") == 0 && argc == 7)
		rc = mode_signupdate(argv + 2);
	else
		return usage();
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}
