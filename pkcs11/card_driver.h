/* The PIV card driver: one slot per PC/SC reader (pkcs11/card_driver.c). */
#ifndef SIGNET_CARD_DRIVER_H
#define SIGNET_CARD_DRIVER_H

#include "pkcs11/token.h"

extern const struct token_driver card_driver;

#endif
