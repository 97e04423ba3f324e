#include "pkcs11/drivers.h"

#include <stddef.h>

#include "pkcs11/card_driver.h"
#include "pkcs11/softhsm.h"

const struct token_driver *const drivers[] = {
	&card_driver,
	&softhsm_driver,
	NULL,
};
