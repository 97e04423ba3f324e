/* The token drivers, in slot order: card slots first, then the fallback. */
#ifndef SIGNET_DRIVERS_H
#define SIGNET_DRIVERS_H

#include <stdbool.h>

#include "pkcs11/token.h"

/* Starts every driver; one that cannot start leaves the others working, and its log line says why. */
void drivers_start(const struct config *conf);
/* Stops the drivers that started. process_exiting: the host is in its exit handlers. */
void drivers_stop(bool process_exiting);
/* Asks the drivers to look for new or vanished devices (when the application asks for slots). */
void drivers_refresh(void);
/*
 * Blocks up to timeout_ms until a driver sees a device come or go: CKR_OK
 * (look again), CKR_NO_EVENT, CKR_CRYPTOKI_NOT_INITIALIZED (C_Finalize), or
 * CKR_FUNCTION_NOT_SUPPORTED when no driver has devices that come and go.
 */
CK_RV drivers_wait(unsigned timeout_ms);

#endif
