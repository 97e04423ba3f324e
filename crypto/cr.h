/* Result codes shared by every function of the crypto/ room. */
#ifndef SIGNET_CRYPTO_CR_H
#define SIGNET_CRYPTO_CR_H

/*
 * 0 means success; errors are negative. The PKCS#11 layer maps these to
 * CK_RV, so each code names a distinct situation a caller must tell apart.
 */
enum cr_rc {
	CR_OK = 0,
	CR_E_ARGS = -1,        /* caller passed something impossible (NULL, bad enum, bad size) */
	CR_E_BUFFER = -2,      /* output buffer too small; the needed size was written back */
	CR_E_DATA = -3,        /* input is malformed or fails a padding / encoding check */
	CR_E_INTERNAL = -4,    /* OpenSSL failed for a reason the caller cannot fix */
	CR_E_MEMORY = -5,      /* allocation failed */
	CR_E_UNSUPPORTED = -6, /* well-formed input using an algorithm or curve we do not handle */
	CR_E_SIGN = -7,        /* the caller's signing callback failed */
	CR_E_SIGNATURE = -8,   /* a signature does not verify */
	CR_E_SIGNATURE_LEN = -9, /* a signature has the wrong length for the key */
};

/* A short English name for a code, for messages; never NULL. */
const char *cr_rc_name(int rc);

#endif
