/* signet's vendor interface (pkcs11/signet_vendor.h), which interface.c offers. */
#ifndef SIGNET_VENDOR_INTERNAL_H
#define SIGNET_VENDOR_INTERNAL_H

#include "pkcs11/cryptoki.h"
#include "pkcs11/signet_vendor.h"

extern SIGNET_FUNCTION_LIST vendor_functions;

#endif
