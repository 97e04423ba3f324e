#!/usr/bin/env bash
# C_SignetSetRetries on a card (the YubiKey's SET PIN RETRIES) and signet-tool set-retries:
# only for a logged-in user in a read-write session, 1 to 255 tries each; a management key
# the card refuses changes nothing; afterwards the card has the new limits with its factory
# PIN and PUK (as the card itself shows in GET METADATA), signet's login is gone, the old
# PIN is refused, the factory PIN works and must be changed, and signet's counters start
# again. A card set to 10 PIN tries is still locked by signet after [policy]'s 3 wrong PINs.
# signet-tool set-retries 3 5 explains, asks for the label (or --yes), and status then shows
# "3 of 3" / "5 of 5" exact tries. A bare PIV card without the command: not supported.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card
. "$SIGNET_TOP/tests/lib/tool.sh"
seen=$work/seen-output
: > "$seen"
pin=$SIGNET_TEST_PIN puk=$SIGNET_TEST_PUK
mine=24681357 my_puk=87654321
log=$work/signet.log
conf() { card_conf "require_pin_change = yes" "[module]" "log_level = info" "log_file = $log" "$@"; }
conf
# GET METADATA of the PIN (80) or the PUK (81), as another program sees it: is-default and tries
counters() { card_metadata "$1" | sed -n 's/^.*05010\(.\)0602\(..\)\(..\)9000$/default=\1 tries=\2\/\3/p'; }

# ---- a PIN and PUK of the owner's ----
expect "the owner's PIN and PUK" init slots open tries login:user:"$pin" setpin:"$pin":"$mine" logout \
	login:so:"$puk" setpin:"$puk":"$my_puk" logout flags finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
tries: CKR_OK user 3/3 so 5/5 reset,set-retries
login: CKR_OK
setpin: CKR_OK
logout: CKR_OK
login: CKR_OK
setpin: CKR_OK
logout: CKR_OK
flags: CKR_OK -
finalize: CKR_OK
EOF

# ---- refused: no login, a read-only session, tries out of range, the card's own management key ----
expect "refused before anything is sent" init slots open retries:10:8 open-ro login:user:"$mine" retries:10:8 \
	open retries:0:8 retries:10:0 retries:256:8 retries:10:256 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
retries: CKR_USER_NOT_LOGGED_IN
open-ro: CKR_OK
login: CKR_OK
retries: CKR_SESSION_READ_ONLY
open: CKR_OK
retries: CKR_ARGUMENTS_BAD
retries: CKR_ARGUMENTS_BAD
retries: CKR_ARGUMENTS_BAD
retries: CKR_ARGUMENTS_BAD
finalize: CKR_OK
EOF
# ---- another program logs the card out between signet's login and the command ----
drive_bg "$work/lost" init slots open login:user:"$mine" touch:"$work/in" wait:"$work/go" retries:10:8 \
	sessinfo finalize
wait_for "$work/in"
check "another program logs the card out" 9000 "$(piv_apdu 0020FF80 | tail -n 1)"
touch "$work/go"
wait "$bg"
same_as "the card no longer holds the login" "$work/lost" <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
touch: CKR_OK
wait: CKR_OK
retries: CKR_USER_NOT_LOGGED_IN
sessinfo: CKR_OK public
finalize: CKR_OK
EOF
check_match "the log says why" "no longer holds the login: its retry counters were not set" "$(cat "$log")"
check "the PIN counter unchanged" "default=0 tries=03/03" "$(counters 80)"

conf "[card]" "management_key = $(head -c 24 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
expect "a management key the card refuses" init slots open login:user:"$mine" retries:10:8 sessinfo flags \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
retries: CKR_FUNCTION_FAILED
sessinfo: CKR_OK user
flags: CKR_OK -
finalize: CKR_OK
EOF
check_match "the log says which key the card refused" \
	"refused the management key from \[card\] management_key in $work/signet.conf: nothing written" "$(cat "$log")"
check "the PIN counter unchanged" "default=0 tries=03/03" "$(counters 80)"
check "the PUK counter unchanged" "default=0 tries=05/05" "$(counters 81)"
check_rc "the owner's PIN still works" 0 piv -a verify-pin -P "$mine"
conf

# ---- 10 PIN tries and 8 PUK tries: the factory PIN and PUK, the login gone ----
expect "set 10 and 8" init slots open login:user:"$mine" retries:10:8 sessinfo flags find:priv \
	login:user:"$mine" login:user:"$pin" flags sign:01:ECDSA logout login:so:"$puk" logout finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
retries: CKR_OK
sessinfo: CKR_OK public
flags: CKR_OK USER_PIN_TO_BE_CHANGED
find: CKR_OK 0
login: CKR_PIN_INCORRECT
login: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
sign: CKR_PIN_EXPIRED
logout: CKR_OK
login: CKR_OK
logout: CKR_OK
finalize: CKR_OK
EOF
check "the card: factory PIN, 10 tries" "default=1 tries=0A/0A" "$(counters 80)"
check "the card: factory PUK, 8 tries" "default=1 tries=08/08" "$(counters 81)"
check_match "one log line says so" "now allows 10 PIN tries and 8 PUK tries; its PIN and PUK are the factory ones" \
	"$(cat "$log")"
for v in "$pin" "$puk" "$mine" "$my_puk"; do
	check_no_match "no PIN or PUK in the log" "$v" "$(cat "$log")"
done

# ---- [policy] still locks after 3 wrong PINs, in front of the card's 10 ----
expect "policy in front of the card" init slots open flags login:user:111111 login:user:222222 flags \
	login:user:333333 flags tries mark login:user:"$pin" apdus finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
login: CKR_PIN_INCORRECT
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_FINAL_TRY USER_PIN_TO_BE_CHANGED
login: CKR_PIN_INCORRECT
flags: CKR_OK USER_PIN_COUNT_LOW USER_PIN_LOCKED USER_PIN_TO_BE_CHANGED
tries: CKR_OK user 0/3 so 5/5 reset,set-retries
mark: CKR_OK
login: CKR_PIN_LOCKED
apdus: CKR_OK 0
finalize: CKR_OK
EOF
check "the card itself has 7 tries left" "default=1 tries=0A/07" "$(counters 80)"
expect "the factory PUK unblocks it" init slots open login:so:"$puk" initpin:"$mine" logout flags finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
initpin: CKR_OK
logout: CKR_OK
flags: CKR_OK USER_PIN_TO_BE_CHANGED
finalize: CKR_OK
EOF

# ---- signet-tool set-retries 3 5 ----
set -e
serial=$(card_serial)
card="YubiKey PIV #$serial"
printf '%s\n' "$mine" > "$work/mine"
cd "$work"
tool set-retries 3 5 --token "$serial" --pin-file mine
expect_rc 10 "set-retries without --yes and without a terminal"
expect_in "123456" err "it explains the factory PIN first"
expect_in "12345678" err "and the factory PUK"
[ "$(counters 80)" = "default=0 tries=0A/0A" ] || fail "the refused set-retries touched the card: $(counters 80)"
tool set-retries 3 0 --token "$serial" --pin-file mine --yes
expect_rc 2 "0 PUK tries"
tool set-retries 3 5 --token "$serial" --pin-file mine --yes
expect_rc 0 "set-retries 3 5"
expect_in "now allows 3 PIN tries and 5 PUK tries" out "it says what it did"
expect_in "signet-tool change-pin --token '$card'          (current PIN: 123456)" out "what to do next: the PIN"
expect_in "signet-tool change-admin-pin --token '$card'    (current administrator PIN: 12345678)" out \
	"what to do next: the PUK"
[ "$(counters 80)" = "default=1 tries=03/03" ] || fail "the card's PIN after set-retries: $(counters 80)"
[ "$(counters 81)" = "default=1 tries=05/05" ] || fail "the card's PUK after set-retries: $(counters 81)"
tool status --token "$serial"
expect_in "user PIN:   3 of 3 tries left; must be changed" out "status: the PIN's exact tries"
expect_in "5 of 5 tries left" out "status: the PUK's exact tries"
tool status --json
[ "$(json_get 'j["slots"][0]["user_pin"]["tries_exact"], j["slots"][0]["admin_pin"]["tries_max"], j["slots"][0]["admin_pin"]["tries_exact"]')" = \
	"(True, 5, True)" ] || fail "status --json after set-retries: $out"
printf '%s\n' 13572468 > other
tool change-pin --token "$serial" --pin-file mine --new-pin-file other
expect_rc 3 "the old PIN is refused"
expect_in "2 of 3 tries left" err "the card's new count after one wrong PIN"
printf '%s\n' "$pin" > factory
tool change-pin --token "$serial" --pin-file factory --new-pin-file mine
expect_rc 0 "change-pin from the factory PIN"
set +e

# ---- a bare PIV card has no such command ----
"$SIGNET_CARDSIM_CTL" restart --plain-piv
expect "bare PIV card" init slots open login:user:"$mine" tries retries:3:5 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
tries: CKR_OK user 3/3 so -1/-1 -
retries: CKR_FUNCTION_NOT_SUPPORTED
finalize: CKR_OK
EOF
tool set-retries 3 5 --pin-file mine --yes
check "signet-tool on the bare card" 9 "$rc"
check_match "it says why" "has no command to set its retry counters" "$err"
for v in "$mine" "$my_puk"; do
	check_no_match "signet-tool never printed the owner's PIN or PUK" "$v" "$(cat "$seen")"
done
