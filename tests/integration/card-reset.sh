#!/usr/bin/env bash
# C_InitToken on a card is the YubiKey reset: refused (CKR_FUNCTION_FAILED, the
# card unchanged, no RESET sent) while the PIN has tries left; once PIN and PUK
# are both blocked (by wrong tries sent as raw APDUs, or by wrong logins through
# signet, which its own PIN counters then remember) it erases keys and
# certificates, gives the card its factory PIN and management key, makes the
# SO PIN given its PUK, and the token asks for its PIN to be changed. A bare
# PIV card without the command: CKR_FUNCTION_NOT_SUPPORTED; it cannot delete a
# key either (CKR_ACTION_PROHIBITED), only empty a certificate.
# Runs with extended-length APDUs and with a card that refuses them.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
both_variants
card_conf "require_pin_change = yes"
pin=$SIGNET_TEST_PIN puk=$SIGNET_TEST_PUK

# Wrong values as raw APDUs on one connection (after a SELECT): n wrong PINs or PUKs.
block_pin() { for i in 1 2 3; do echo 00200080083${i}3${i}3${i}3${i}3${i}3${i}FFFF; done; }
block_puk() { for i in 1 2 3 4 5; do echo 00240081103${i}3${i}3${i}3${i}3${i}3${i}3${i}3${i}3939393939393939; done; }
card_apdus() { { echo "$sel"; cat; } | apdu | tail -n +2; }
metadata() { echo "00F700$1" | card_apdus; }
init_token() { # so-pin; pkcs11-tool's output in $out
	out=$(run_client pkcs11-tool --module "$module" --init-token --label ignored --so-pin "$1" 2>&1)
}

# Five wrong PUKs and three wrong PINs through signet; then the token's flags are those given.
lock_through_signet() { # name flags
	expect "$1" init slots open \
		login:so:11111111 login:so:22222222 login:so:33333333 login:so:44444444 login:so:55555555 \
		login:user:111111 login:user:222222 login:user:333333 flags finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
$(for _ in 1 2 3 4 5 6 7 8; do echo "login: CKR_PIN_INCORRECT"; done)
flags: CKR_OK $2
finalize: CKR_OK
EOF
}

# ---- a bare PIV card has no reset ----
"$SIGNET_CARDSIM_CTL" restart --plain-piv
check "the bare card has no YubiKey instructions" "6D00 6D00 6D00" "$(printf '00FB0000\n00FD0000\n00F8000000\n' | card_apdus | xargs)"
init_token "$puk" && fail "reset of a bare PIV card: $out"
check_match "bare PIV card: not supported" "CKR_FUNCTION_NOT_SUPPORTED" "$out"
check_match "with a log line" "has no reset command" "$out"
check_match "the bare card keeps its keys" "^5382" "$(echo 00CB3FFF055C035FC105 | card_apdus)"
expect "a bare PIV card empties a certificate but cannot delete a key" init slots open login:user:"$pin" \
	find:priv:01 attr:destroyable destroy find:cert:01 attr:destroyable finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
attr: CKR_OK false
destroy: CKR_ACTION_PROHIBITED
find: CKR_OK 1
attr: CKR_OK true
finalize: CKR_OK
EOF
check_match "the refusal says why" "cannot delete the key in slot 9A" "$(cat "$work/drive.err")"
"$SIGNET_CARDSIM_CTL" restart

# ---- refused while the PIN has tries left ----
check_match "PUK blocked" "63C0$" "$(block_puk | card_apdus | tail -n 1)"
init_token "$puk" && fail "reset with the PIN not blocked: $out"
check_match "refused with CKR_FUNCTION_FAILED" "CKR_FUNCTION_FAILED" "$out"
check_match "the log line says what the card needs" \
	"resets only once both its PIN and its PUK are blocked \(the PIN has tries left\)" "$out"
check_match "the 9A key is still there" "^010111.*9000$" "$(metadata 9A)"
check_match "the PIN still works" "^9000$" "$(echo 0020008008313233343536FFFF | card_apdus)"

# ---- PIN and PUK blocked: the reset ----
check_match "PIN blocked" "63C0$" "$(block_pin | card_apdus | tail -n 1)"
init_token "$puk" || fail "reset: $out"
check_match "pkcs11-tool initialised the token" "Token successfully initialized" "$out"
check_match "9A key gone" "^6A88$" "$(metadata 9A)"
check_match "9C key gone" "^6A88$" "$(metadata 9C)"
check_match "9A certificate gone" "^6A82$" "$(echo 00CB3FFF055C035FC105 | card_apdus)"
check "factory PIN, 3 tries" "01 01 FF 05 01 01 06 02 03 03 90 00" "$(metadata 80 | sed 's/../& /g; s/ $//')"
check "factory PUK, 5 tries" "01 01 FF 05 01 01 06 02 05 05 90 00" "$(metadata 81 | sed 's/../& /g; s/ $//')"
check "factory management key" "01 01 03 02 02 00 01 05 01 01 90 00" "$(metadata 9B | sed 's/../& /g; s/ $//')"
expect "a new token whose PIN must be changed" init slots open flags find:cert find:priv \
	login:user:"$pin" flags setpin:"$pin":654321 flags finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
find: CKR_OK 0
find: CKR_OK 0
login: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
setpin: CKR_OK
flags: CKR_OK -
finalize: CKR_OK
EOF

# ---- blocked through signet (its counters remember the SO lock for ever); a new PUK ----
lock_through_signet "five wrong PUKs and three wrong PINs through signet" \
	"USER_PIN_COUNT_LOW USER_PIN_LOCKED SO_PIN_COUNT_LOW SO_PIN_LOCKED"
init_token 1234 && fail "an SO PIN PIV cannot carry: $out"
check_match "a short SO PIN is refused" "CKR_PIN_LEN_RANGE" "$out"
init_token 87654321 || fail "reset with a new PUK: $out"
check "the SO PIN given is the PUK" "01 01 FF 05 01 00 06 02 05 05 90 00" "$(metadata 81 | sed 's/../& /g; s/ $//')"
expect "the SO lock is gone with the reset" init slots open flags login:so:87654321 logout flags finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
login: CKR_OK
logout: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
finalize: CKR_OK
EOF

# ---- a card that allows more tries than the policy: signet's locks are enough for the reset ----
check_rc "card set to 6 PIN and 8 PUK tries" 0 piv -a verify-pin -P "$pin" -a pin-retries --pin-retries 6 --puk-retries 8
lock_through_signet "locked by signet's policy: 3 wrong PINs, 5 wrong PUKs" \
	"USER_PIN_COUNT_LOW USER_PIN_LOCKED USER_PIN_TO_BE_CHANGED SO_PIN_COUNT_LOW SO_PIN_LOCKED"
# GET METADATA: ... 06 02 <total> <left>
check "the card itself: 3 of 6 PIN tries left" "06 03" "$(metadata 80 | cut -c17-20 | sed 's/../& /')"
check "the card itself: 3 of 8 PUK tries left" "08 03" "$(metadata 81 | cut -c17-20 | sed 's/../& /')"
init_token 87654321 || fail "reset of a card locked by signet's policy only: $out"
check_match "the log says the card was made to block them" "blocking them on the card for the reset" "$out"
check "factory PIN after the reset" "01 01 FF 05 01 01 06 02 03 03 90 00" "$(metadata 80 | sed 's/../& /g; s/ $//')"
check "the SO PIN given is the PUK again" "01 01 FF 05 01 00 06 02 05 05 90 00" "$(metadata 81 | sed 's/../& /g; s/ $//')"
