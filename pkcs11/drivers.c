#include "pkcs11/drivers.h"

#include <stddef.h>

#include "pkcs11/card_driver.h"
#include "pkcs11/log.h"
#include "pkcs11/softhsm.h"

static const struct token_driver *const drivers[] = {
	&card_driver,
	&softhsm_driver,
	NULL,
};

/* Written by C_Initialize and C_Finalize only, which the module serialises. */
static bool started[sizeof(drivers) / sizeof(drivers[0])];

void drivers_start(const struct config *conf)
{
	for (size_t i = 0; drivers[i] != NULL; i++) {
		CK_RV rv = drivers[i]->start(conf);

		if (rv != CKR_OK)
			log_msg(LL_WARNING, "%s tokens unavailable: %s", drivers[i]->name, log_rv_name(rv));
		started[i] = rv == CKR_OK;
	}
}

void drivers_stop(bool process_exiting)
{
	for (size_t i = 0; drivers[i] != NULL; i++) {
		if (started[i] && drivers[i]->stop != NULL)
			drivers[i]->stop(process_exiting);
		started[i] = false;
	}
}

void drivers_refresh(void)
{
	for (size_t i = 0; drivers[i] != NULL; i++)
		if (started[i] && drivers[i]->refresh != NULL)
			drivers[i]->refresh();
}

CK_RV drivers_wait(unsigned timeout_ms)
{
	CK_RV rv = CKR_FUNCTION_NOT_SUPPORTED;

	/* Card readers are the only devices that come and go; one driver waits. */
	for (size_t i = 0; drivers[i] != NULL && rv == CKR_FUNCTION_NOT_SUPPORTED; i++)
		if (started[i] && drivers[i]->wait != NULL)
			rv = drivers[i]->wait(timeout_ms);
	return rv;
}
