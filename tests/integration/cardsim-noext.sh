#!/usr/bin/env bash
# --no-extended: the card refuses extended-length APDUs (6700) and still
# serves clients that use short APDUs with chaining. --latency 20 slows
# every APDU down by 20 ms.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card --no-extended --latency 20

check "extended GET DATA refused" "6700" "$(apdu 00CB3FFF0000055C035FC1020000)"
check "extended case 2 refused" "6700" "$(apdu 00FD0000000000)"
check_match "short GET DATA served" '^533B3019[0-9A-F]+9000$' "$(apdu 00CB3FFF055C035FC10200)"
check_rc "yubico-piv-tool status" 0 piv -a status
check_match "certificate read by short APDUs" $'Slot 9c:' "$out"
check_rc "pkcs11-tool objects" 0 p11 -O
check_match "9c certificate" "label: +Certificate for Digital Signature" "$out"

start=$(date +%s%N)
apdu 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 > /dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 200 ] || fail "10 APDUs with 20 ms latency took only $ms ms"
