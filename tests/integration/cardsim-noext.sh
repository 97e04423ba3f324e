#!/usr/bin/env bash
# --no-extended: the card refuses extended-length APDUs (6700) and still
# serves clients that use short APDUs with chaining. --latency 20 slows
# every APDU down by 20 ms. --trace logs APDUs without secrets. --no-touch:
# keys that need a touch cannot be used.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card --no-extended --no-touch --latency 20 --trace

check "extended GET DATA refused" "6700" "$(apdu 00CB3FFF0000055C035FC1020000)"
check "extended case 2 refused" "6700" "$(apdu 00FD0000000000)"
check_match "short GET DATA served" '^533B3019[0-9A-F]+9000$' "$(piv_apdu 00CB3FFF055C035FC10200)"
check_rc "yubico-piv-tool status" 0 piv -a status
check_match "certificate read by short APDUs" $'Slot 9c:' "$out"
check_rc "pkcs11-tool objects" 0 p11 -O
check_match "9c certificate" "label: +Certificate for Digital Signature" "$out"

start=$(date +%s%N)
apdu 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 00FD0000 > /dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 200 ] || fail "10 APDUs with 20 ms latency took only $ms ms"

# The trace shows APDUs but never the PIN, PUK or management key.
check_rc "verify-pin" 0 piv -a verify-pin -P 123456
check_rc "change-puk" 0 piv -a change-puk -P 12345678 -N 87654321
check_rc "set-mgm-key" 0 piv -a set-mgm-key -n A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8C1C2C3C4C5C6C7C8
trace=$(cat "$SIGNET_CARDSIM_LOG")
check_match "GET VERSION traced" '^> 00 FD 00 00 00$' "$trace"
check_match "VERIFY traced without data" '^> 00 20 00 80 08 \[8 bytes not shown\]$' "$trace"
check_match "CHANGE REFERENCE traced without data" '^> 00 24 00 81 10 \[16 bytes not shown\]$' "$trace"
check_no_match "no PIN in the trace" '31 32 33 34 35 36' "$trace"
check_no_match "no PUK in the trace" '38 37 36 35 34 33 32 31' "$trace"
check_match "SET MGMT KEY traced without data" '^> 00 FF FF FF 1B \[27 bytes not shown\]$' "$trace"
check_no_match "no management key in the trace" 'A1 A2 A3 A4' "$trace"

# Touch policy "always": with nobody touching, the key cannot be used.
hash=$(printf '%064X' 7)
check_rc "generate 9d, touch always" 0 piv -kA1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8C1C2C3C4C5C6C7C8 \
	-a generate -s 9d -A ECCP256 --pin-policy=never --touch-policy=always -o /dev/null
check "9d metadata: PIN never, touch always" "0101110202010203010104" \
	"$(apdu 00A4040005A000000308 00F7009D00 | tail -n 1 | cut -c1-22)"
check "9d signature without touch" "6982" "$(apdu 00A4040005A000000308 "0087119D267C2482008120$hash" | tail -n 1)"
check_rc "generate 9e, touch never" 0 piv -kA1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8C1C2C3C4C5C6C7C8 \
	-a generate -s 9e -A ECCP256 --pin-policy=never --touch-policy=never -o /dev/null
check_match "9e signature" '^7C..82..30[0-9A-F]+9000$' "$(apdu 00A4040005A000000308 "0087119E267C2482008120$hash" | tail -n 1)"
