#include "pkcs11/drivers.h"

#include <stddef.h>

#include "pkcs11/softhsm.h"

const struct token_driver *const drivers[] = {
	&softhsm_driver,
	NULL,
};
