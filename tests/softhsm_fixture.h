/*
 * A fresh SoftHSMv2 token behind signet, for the suites that need a real
 * fallback token: its configuration files in a scratch directory, the
 * module initialised on them, and the token initialised with an SO PIN and
 * a first user PIN.
 */
#ifndef SIGNET_SOFTHSM_FIXTURE_H
#define SIGNET_SOFTHSM_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pkcs11/cryptoki.h"
#include "tests/check_util.h"

/* The SoftHSM configuration dir/softhsm2.conf and its token directory dir/tokens, which must not exist yet. */
static inline void sf_write_softhsm_conf(const char *dir)
{
	char shconf[4096], tokens[4096];

	snprintf(shconf, sizeof(shconf), "%s/softhsm2.conf", dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	ck_assert_int_eq(mkdir(tokens, 0700), 0);
	tu_write_file(shconf, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
}

/*
 * signet's configuration at conf: no card, the SoftHSM token of dir, and
 * extra appended as is. library is the SoftHSM library to load, or NULL
 * for signet's default.
 */
static inline void sf_write_signet_conf(const char *conf, const char *dir, const char *library, const char *extra)
{
	char library_line[4200] = "";

	if (library != NULL)
		snprintf(library_line, sizeof(library_line), "library = %s\n", library);
	tu_write_file(conf, "[card]\nenable = no\n[softhsm]\n%sconfig = %s/softhsm2.conf\nstate_dir = %s/state\n"
			    "[module]\nlog_level = error\n%s",
		      library_line, dir, dir, extra);
}

/* The module, initialised on the configuration at conf rather than on any SoftHSM set-up of the environment. */
static inline CK_FUNCTION_LIST_PTR sf_initialize(const char *conf)
{
	CK_FUNCTION_LIST_PTR fl = NULL;

	setenv("SIGNET_CONF", conf, 1);
	unsetenv("SOFTHSM2_CONF");
	ck_assert_int_eq(C_GetFunctionList(&fl), CKR_OK);
	ck_assert_int_eq(fl->C_Initialize(NULL), CKR_OK);
	return fl;
}

/* The first slot, or once there is one, the slot of the initialised token. */
static inline CK_SLOT_ID sf_initialised_slot(CK_FUNCTION_LIST_PTR fl)
{
	CK_SLOT_ID list[8];
	CK_ULONG n = 8;
	CK_TOKEN_INFO ti;

	ck_assert_int_eq(fl->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_ge(n, 1);
	for (CK_ULONG i = 0; i < n; i++)
		if (fl->C_GetTokenInfo(list[i], &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED))
			return list[i];
	return list[0];
}

/*
 * Initialises the token in slot with label and so_pin, and has the SO set
 * the first user PIN (which the user must then change). Returns the
 * read-write session it used, logged out, for the caller to go on with or
 * close.
 */
static inline CK_SESSION_HANDLE sf_init_token(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot, const char *label,
					      const char *so_pin, const char *user_pin)
{
	CK_UTF8CHAR padded[32];
	CK_SESSION_HANDLE h;

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	ck_assert_int_eq(fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded), CKR_OK);
	ck_assert_int_eq(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), CKR_OK);
	ck_assert_int_eq(fl->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin)), CKR_OK);
	ck_assert_int_eq(fl->C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin)), CKR_OK);
	ck_assert_int_eq(fl->C_Logout(h), CKR_OK);
	return h;
}

/*
 * The fixture most suites want, in dir (a fresh scratch directory): both
 * configurations (signet's with extra appended), the module initialised on
 * them, the token initialised with label and so_pin, its first user PIN
 * changed to user_pin as the policy wants, and a read-write session logged
 * in with it, which is returned. *fl and *slot get the module and the slot.
 */
static inline CK_SESSION_HANDLE sf_user_session(const char *dir, const char *extra, const char *label,
						const char *so_pin, const char *user_pin, CK_FUNCTION_LIST_PTR *fl,
						CK_SLOT_ID *slot)
{
	static const char first_pin[] = "1111";
	char conf[4096];
	CK_SESSION_HANDLE h;

	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf, dir, NULL, extra);
	unsetenv("SIGNET_DEBUG");
	*fl = sf_initialize(conf);
	*slot = sf_initialised_slot(*fl);
	h = sf_init_token(*fl, *slot, label, so_pin, first_pin);
	ck_assert_int_eq((*fl)->C_SetPIN(h, (CK_UTF8CHAR_PTR)first_pin, strlen(first_pin), (CK_UTF8CHAR_PTR)user_pin,
					 strlen(user_pin)),
			 CKR_OK);
	ck_assert_int_eq((*fl)->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin)), CKR_OK);
	return h;
}

/*
 * A 32-byte session key made with gen_type (CKM_AES_KEY_GEN,
 * CKM_GENERIC_SECRET_KEY_GEN) in session h, allowed the n uses given
 * (CKA_ENCRYPT, CKA_SIGN, ...).
 */
static inline CK_OBJECT_HANDLE sf_secret_key(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE h, CK_MECHANISM_TYPE gen_type,
					     const CK_ATTRIBUTE_TYPE *uses, CK_ULONG n)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM gen = { gen_type, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[8] = { { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &no, sizeof(no) } };
	CK_OBJECT_HANDLE k;

	ck_assert_uint_le(n, 6);
	for (CK_ULONG i = 0; i < n; i++)
		t[2 + i] = (CK_ATTRIBUTE){ uses[i], &yes, sizeof(yes) };
	ck_assert_int_eq(fl->C_GenerateKey(h, &gen, t, 2 + n, &k), CKR_OK);
	return k;
}

/*
 * PIN tries SoftHSM judged, from the file of tests/shims/softhsm_login_counter.c
 * (SIGNET_TEST_LOGIN_LOG): logins it answered with CKR_OK or
 * CKR_PIN_INCORRECT. Under concurrent writers SoftHSM sometimes fails to
 * read its own token file and answers CKR_GENERAL_ERROR before looking at
 * the PIN; signet gives such a try back, so those calls are no tries.
 */
static inline CK_ULONG sf_login_calls(const char *log)
{
	char *text = tu_read_file(log), *line, *save = NULL;
	CK_ULONG n = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *rv = strrchr(line, ' ');

		ck_assert_ptr_nonnull(rv);
		if (strcmp(rv, " 0x0") == 0 || strcmp(rv, " 0xa0") == 0)
			n++;
	}
	free(text);
	return n;
}

#endif
