/*
 * The fallback token: SoftHSMv2 loaded with dlopen and shown as further
 * slots after the card slots, with handle translation, the PIN policy of
 * the configuration enforced in front of it, keys forced to stay inside,
 * and the hash-and-sign mechanisms SoftHSM lacks composed on the host.
 *
 * Which SoftHSM configuration (and so which token directory) is used:
 *   1. SOFTHSM2_CONF from the caller's environment, when set;
 *   2. otherwise [softhsm] config, when set;
 *   3. otherwise <state_dir>/softhsm2.conf, created on first use with
 *      tokens in <state_dir>/tokens, so every user has a private fallback
 *      token without write access to the system token directory.
 * For 2 and 3, SOFTHSM2_CONF is set only for the duration of SoftHSM's
 * C_Initialize and then restored.
 */
#ifndef SIGNET_SOFTHSM_H
#define SIGNET_SOFTHSM_H

#include "pkcs11/token.h"

extern const struct token_driver softhsm_driver;

#endif
