#!/usr/bin/env bash
# What happens to the card under a running application: the card pulled while a
# session signs (CKR_DEVICE_REMOVED, then the session is gone; put back it is a
# new token whose old object handles are invalid), the card reset by another
# program (the login is lost, C_Sign says CKR_USER_NOT_LOGGED_IN and no PIN is
# ever sent again by signet), and a second program using the card at the same
# time. Two cards in two readers are two tokens, each with its own slot.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card --cards 2 --trace
card_conf
pin=$SIGNET_TEST_PIN
t=$work

# VERIFY commands with a PIN in them that the card has seen so far.
verifies() {
	grep -c '^> 00 20 00 80 08' "$SIGNET_CARDSIM_LOG"
}

# ---- pulled while in use, then put back ----
drive_bg "$t/pull.out" init slots slot:0 open login:user:"$pin" find:priv:01 keep sign:01:ECDSA touch:"$t/ready" \
	wait:"$t/pulled" sign:01:ECDSA sessinfo slotinfo slots touch:"$t/seen" wait:"$t/inserted" slots slotinfo \
	open use getattr find:priv:01 login:user:"$pin" find:priv:01 getattr sign:01:ECDSA finalize
wait_for "$t/ready"
"$SIGNET_CARDSIM_CTL" pull
touch "$t/pulled"
wait_for "$t/seen"
"$SIGNET_CARDSIM_CTL" insert
touch "$t/inserted"
wait $bg || fail "p11_card failed: $(cat "$t/pull.out.err")"
same_as "pull and insert" "$t/pull.out" <<EOF
init: CKR_OK
slots: CKR_OK 2
slot: CKR_OK 0
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
keep: CKR_OK
sign: CKR_OK verified
touch: CKR_OK
wait: CKR_OK
sign: CKR_DEVICE_REMOVED
sessinfo: CKR_SESSION_HANDLE_INVALID
slotinfo: CKR_OK absent
slots: CKR_OK 1
touch: CKR_OK
wait: CKR_OK
slots: CKR_OK 2
slotinfo: CKR_OK present
open: CKR_OK
use: CKR_OK
getattr: CKR_OBJECT_HANDLE_INVALID
find: CKR_OK 0
login: CKR_OK
find: CKR_OK 1
getattr: CKR_OK
sign: CKR_OK verified
finalize: CKR_OK
EOF

# ---- reset by another program ----
drive_bg "$t/reset.out" init slots open login:user:"$pin" sign:01:ECDSA touch:"$t/r-ready" wait:"$t/reset" \
	sign:01:ECDSA sessinfo find:priv sign:01:ECDSA touch:"$t/counted" wait:"$t/go" login:user:"$pin" \
	sign:01:ECDSA finalize
wait_for "$t/r-ready"
before=$(verifies)
[ "$("$SIGNET_BUILD/tests/pcsc_reset" "$SIGNET_TEST_READER")" = "reset: ok" ] || fail "pcsc_reset failed"
touch "$t/reset"
wait_for "$t/counted"
check "no PIN sent after the reset" "$before" "$(verifies)"
touch "$t/go"
wait $bg || fail "p11_card failed: $(cat "$t/reset.out.err")"
same_as "reset by another program" "$t/reset.out" <<EOF
init: CKR_OK
slots: CKR_OK 2
open: CKR_OK
login: CKR_OK
sign: CKR_OK verified
touch: CKR_OK
wait: CKR_OK
sign: CKR_USER_NOT_LOGGED_IN
sessinfo: CKR_OK public
find: CKR_OK 0
sign: CKR_OBJECT_HANDLE_INVALID
touch: CKR_OK
wait: CKR_OK
login: CKR_OK
sign: CKR_OK verified
finalize: CKR_OK
EOF
check "one more VERIFY: the login asked for" "$((before + 1))" "$(verifies)"

# ---- a second program at the same time ----
# A YubiKey forgets the PIN when any program selects PIV again, so a second
# program that only lists the card logs the first one out: the first one's next
# signature says so (never a wrong one), and after a new login it signs again.
# Two programs both logged in sign in turn.
rm -f "$t"/a* "$t"/b*
drive_bg "$t/a.out" init slots open login:user:"$pin" sign:01:ECDSA touch:"$t/a1" wait:"$t/b1" \
	sign:01:ECDSA login:user:"$pin" sign:01:ECDSA touch:"$t/a2" wait:"$t/b2" sign:01:ECDSA finalize
a=$bg
wait_for "$t/a1"
drive init slots open find:cert:01 attr:label finalize
check "second program lists" "attr: CKR_OK PIV Authentication" "$(printf '%s\n' "$out" | grep '^attr')"
touch "$t/b1"
wait_for "$t/a2"
drive init slots open login:user:"$pin" sign:01:ECDSA finalize
check "second program signs" "sign: CKR_OK verified" "$(printf '%s\n' "$out" | grep '^sign')"
touch "$t/b2"
wait $a || fail "first program failed"
same_as "first program" "$t/a.out" <<EOF
init: CKR_OK
slots: CKR_OK 2
open: CKR_OK
login: CKR_OK
sign: CKR_OK verified
touch: CKR_OK
wait: CKR_OK
sign: CKR_USER_NOT_LOGGED_IN
login: CKR_OK
sign: CKR_OK verified
touch: CKR_OK
wait: CKR_OK
sign: CKR_OK verified
finalize: CKR_OK
EOF

# ---- two cards, two tokens ----
s1=$(card_serial)
s2=$(yubico-piv-tool -r "$SIGNET_TEST_READER_2" -a status 2> /dev/null | sed -n 's/^Serial Number:[[:space:]]*//p')
[ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$s2" ] || fail "two cards with two serials expected: $s1 $s2"
drive init slots slot:0 token open login:user:"$pin" sign:01:ECDSA slot:1 token open login:user:"$pin" \
	ctxpin:"$pin" sign:02:RSA-X-509 finalize
check_match "first card" "token: CKR_OK [^|]* #$s1\|$s1\|6-8" "$out"
check_match "second card" "token: CKR_OK [^|]* #$s2\|$s2\|6-8" "$out"
check "both sign" 2 "$(printf '%s\n' "$out" | grep -c 'sign: CKR_OK verified')"
sig_p11 -L > "$t/list" 2>&1 || fail "pkcs11-tool -L: $(cat "$t/list")"
check "pkcs11-tool lists both" 2 "$(grep -c 'token label' "$t/list")"

# ---- C_WaitForSlotEvent: removal and insertion, blocking or not; C_Finalize ends a wait ----
rm -f "$t"/w*
drive_bg "$t/w.out" init slots event-nb touch:"$t/w1" event wait:"$t/w2" event-nb event-nb touch:"$t/w3" \
	event finalize init bgfinalize:300 event join
wait_for "$t/w1"
sleep 0.3
"$SIGNET_CARDSIM_CTL" -n 2 pull
"$SIGNET_CARDSIM_CTL" -n 2 insert
touch "$t/w2"
wait_for "$t/w3"
sleep 0.3
"$SIGNET_CARDSIM_CTL" pull
wait $bg || fail "p11_card failed: $(cat "$t/w.out.err")"
"$SIGNET_CARDSIM_CTL" insert
same_as "slot events" "$t/w.out" <<END
init: CKR_OK
slots: CKR_OK 2
event-nb: CKR_NO_EVENT
touch: CKR_OK
event: CKR_OK slot=1
wait: CKR_OK
event-nb: CKR_OK slot=1
event-nb: CKR_NO_EVENT
touch: CKR_OK
event: CKR_OK slot=0
finalize: CKR_OK
init: CKR_OK
bgfinalize: CKR_OK
event: CKR_CRYPTOKI_NOT_INITIALIZED
join: CKR_OK
END
