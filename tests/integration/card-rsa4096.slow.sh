#!/usr/bin/env bash
# An RSA-4096 key generated on the card (slow on the simulator: make check-slow), signing at once,
# with extended-length APDUs and with chained short ones.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
both_variants --personalize empty
card_conf
expect "RSA-4096 made on the card" init slots open login:user:"$SIGNET_TEST_PIN" gen:rsa4096:01 \
	sign:01:SHA256-RSA-PKCS sign:01:SHA512-RSA-PKCS-PSS finalize <<OUT
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
gen: CKR_OK 01
sign: CKR_OK verified
sign: CKR_OK verified
finalize: CKR_OK
OUT
check_match "the card says RSA-4096, generated" "^010116.*030101" "$(card_metadata 9A)"
