#include "pkcs11/drivers.h"

#include <stddef.h>

const struct token_driver *const drivers[] = {
	NULL,
};
