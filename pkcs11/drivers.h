/* The token drivers, in slot order: card slots first, then the fallback. */
#ifndef SIGNET_DRIVERS_H
#define SIGNET_DRIVERS_H

#include "pkcs11/token.h"

/* NULL-terminated. */
extern const struct token_driver *const drivers[];

#endif
