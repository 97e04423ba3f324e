#!/usr/bin/env bash
# The PIN policy on a card, through signet (the C driver) with the card's own
# view checked by yubico-piv-tool: three wrong PINs lock it with the right
# flags at each step and nothing is sent afterwards; the same wrong PIN is never
# sent twice in a row; the PUK (CKU_SO, checked with CHANGE REFERENCE DATA from
# the PUK to itself) and C_InitPIN unblock it; a PIN still at the card's default
# must be changed; a card configured with more tries is locked after three by
# signet; five wrong PUKs lock the SO for good, in every process.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card
card_conf
pin=$SIGNET_TEST_PIN puk=$SIGNET_TEST_PUK

# ---- three wrong PINs ----
expect "wrong PINs" init slots open flags login:user:111111 flags mark login:user:111111 apdus \
	login:user:222222 flags login:user:333333 flags mark login:user:"$pin" apdus finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK -
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW
mark: CKR_OK
login: CKR_PIN_INCORRECT
apdus: CKR_OK 0
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_FINAL_TRY
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_LOCKED
mark: CKR_OK
login: CKR_PIN_LOCKED
apdus: CKR_OK 0
finalize: CKR_OK
EOF
check_rc "the card has its PIN blocked" 1 piv -a verify-pin -P "$pin"
expect "another process sees the lock" init slots open flags mark login:user:"$pin" apdus finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_LOCKED
mark: CKR_OK
login: CKR_PIN_LOCKED
apdus: CKR_OK 0
finalize: CKR_OK
EOF

# ---- the PUK unblocks it ----
expect "PUK login and C_InitPIN" init slots open login:so:"$puk" sessinfo initpin:12121212 logout flags \
	login:user:12121212 sessinfo setpin:12121212:"$pin" logout finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
sessinfo: CKR_OK so
initpin: CKR_OK
logout: CKR_OK
flags: CKR_OK -
login: CKR_OK
sessinfo: CKR_OK user
setpin: CKR_OK
logout: CKR_OK
finalize: CKR_OK
EOF
check_rc "the card takes the PIN again" 0 piv -a verify-pin -P "$pin"

# ---- a PIN the SO set, or the card's default, must be changed ----
card_conf "require_pin_change = yes"
expect "default PIN" init slots open flags login:user:"$pin" sign:01:ECDSA setpin:"$pin":"$pin" \
	setpin:"$pin":24681357 flags sign:01:ECDSA finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
login: CKR_OK
sign: CKR_PIN_EXPIRED
setpin: CKR_PIN_INVALID
setpin: CKR_OK
flags: CKR_OK -
sign: CKR_OK verified
finalize: CKR_OK
EOF
expect "a PIN set by the SO" init slots open login:so:"$puk" initpin:"$pin" logout flags login:user:"$pin" \
	sign:01:ECDSA setpin:"$pin":13572468 sign:01:ECDSA setpin:13572468:"$pin" finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
initpin: CKR_OK
logout: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
login: CKR_OK
sign: CKR_PIN_EXPIRED
setpin: CKR_OK
sign: CKR_OK verified
setpin: CKR_OK
finalize: CKR_OK
EOF
card_conf

# ---- a card that allows five tries is locked after three ----
check_rc "card set to 5 tries" 0 piv -a verify-pin -P "$pin" -a pin-retries --pin-retries 5 --puk-retries 5
expect "policy in front of the card" init slots open flags login:user:111111 login:user:222222 flags \
	login:user:333333 flags mark login:user:"$pin" apdus finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK -
login: CKR_PIN_INCORRECT
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_FINAL_TRY
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_LOCKED
mark: CKR_OK
login: CKR_PIN_LOCKED
apdus: CKR_OK 0
finalize: CKR_OK
EOF
check_match "the card itself still has two tries" "PIN tries left:[[:space:]]+2" "$(piv -a status 2>&1)"
expect "the SO unblocks it for signet too" init slots open login:so:"$puk" initpin:"$pin" logout flags \
	login:user:"$pin" finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
initpin: CKR_OK
logout: CKR_OK
flags: CKR_OK -
login: CKR_OK
finalize: CKR_OK
EOF

# ---- five wrong PUKs: the SO is locked for good ----
expect "wrong PUKs" init slots open login:so:00000001 flags login:so:00000002 login:so:00000003 \
	login:so:00000004 flags login:so:00000005 flags mark login:so:"$puk" apdus finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_PIN_INCORRECT
flags: CKR_OK SO_PIN_COUNT_LOW
login: CKR_PIN_INCORRECT
login: CKR_PIN_INCORRECT
login: CKR_PIN_INCORRECT
flags: CKR_OK SO_PIN_COUNT_LOW SO_PIN_FINAL_TRY
login: CKR_PIN_INCORRECT
flags: CKR_OK SO_PIN_COUNT_LOW SO_PIN_LOCKED
mark: CKR_OK
login: CKR_PIN_LOCKED
apdus: CKR_OK 0
finalize: CKR_OK
EOF
check_rc "the card has its PUK blocked" 1 piv -a unblock-pin -P "$puk" -N "$pin"
expect "for good, in another process" init slots open flags mark login:so:"$puk" apdus finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK SO_PIN_COUNT_LOW SO_PIN_LOCKED
mark: CKR_OK
login: CKR_PIN_LOCKED
apdus: CKR_OK 0
finalize: CKR_OK
EOF
