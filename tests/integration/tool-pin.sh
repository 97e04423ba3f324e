#!/usr/bin/env bash
# signet-tool on the fallback token: init, status (text and --json), change-pin,
# change-admin-pin, unblock, the PIN state in words after each wrong PIN, the
# final-try guard (on a terminal through a pseudo-terminal, without one, and
# --force), token selection, PIN sources, exit codes, and that no PIN is ever
# printed or shown on a command line.
set -euo pipefail
. "$(dirname "$0")/../lib/tool.sh"
tool_setup
cd "$work"

# ---- before any token ----
tool
expect_rc 0 "status with only the empty slot"
expect_in "empty software token slot" out "status"
tool status --json
[ "$(json_get 'j["slots"][0]["initialized"]')" = False ] || fail "json: the empty slot is initialised"
tool change-pin --pin-file pin --new-pin-file pin2
expect_rc 6 "change-pin with no token at all"
tool set-retries
expect_rc 6 "set-retries with no token"

# ---- init ----
tool init --admin-pin-file admin --new-pin-file initial
expect_rc 2 "init without a label"
tool init --label alice --admin-pin-file admin --new-pin-file initial
expect_rc 0 "init"
expect_in "must change it" out "init says the PIN must be changed"
tool init --label alice --admin-pin-file admin --new-pin-file initial
expect_rc 2 "a second token with the same label"
tool status --json
[ "$(json_get '[s["label"] for s in j["slots"] if s["initialized"]]')" = "['alice']" ] || fail "json labels: $out"
[ "$(json_get 'j["slots"][0]["kind"]')" = software ] || fail "json kind"
[ "$(json_get 'j["slots"][0]["user_pin"]["must_change"]')" = True ] || fail "json: initial PIN not marked"
[ "$(json_get 'j["slots"][0]["user_pin"]["tries_left"], j["slots"][0]["user_pin"]["tries_max"]')" = "(3, 3)" ] ||
	fail "json user tries: $out"
[ "$(json_get 'j["slots"][0]["admin_pin"]["tries_left"], j["slots"][0]["admin_pin"]["tries_max"]')" = "(5, 5)" ] ||
	fail "json admin tries: $out"
tool status
expect_in "user PIN:   3 of 3 tries left; must be changed" out "status words for a new token"
tool set-retries
expect_rc 9 "set-retries on a software token"
expect_in "[policy]" err "set-retries says where the limits come from"

# ---- change-pin; the PIN from the environment and from the URI's pin-source ----
T_ENV_PIN=$T_INITIAL tool change-pin --pin-env T_ENV_PIN --new-pin-file pin
expect_rc 0 "change-pin with the PIN from the environment"
tool status
expect_in "user PIN:   3 of 3 tries left" out "status after the change"
! grep -q "must be changed" <<<"$out" || fail "still must be changed: $out"
tool change-pin --token "pkcs11:token=alice?pin-source=file:$work/pin" --new-pin-file pin2
expect_rc 0 "change-pin with the PIN from the URI's pin-source"
tool change-pin --token "pkcs11:token=alice?pin-value=$T_PIN2" --new-pin-file pin
expect_rc 2 "a URI carrying pin-value is refused"
tool change-pin --pin-file pin2 --pin-env X --new-pin-file pin
expect_rc 2 "two sources for one PIN"

# ---- wrong PINs, in words, and the final-try guard ----
tool change-pin --pin-file wrong --new-pin-file pin
expect_rc 3 "first wrong PIN"
expect_in "wrong user PIN for 'alice': 2 of 3 tries left" err "tries after one wrong PIN"
tool status --json
[ "$(json_get 'j["slots"][0]["user_pin"]["state"], j["slots"][0]["user_pin"]["tries_left"], j["slots"][0]["user_pin"]["tries_exact"]')" = "('count-low', 2, True)" ] ||
	fail "json after one wrong PIN: $out"
tool change-pin --pin-file wrong --new-pin-file pin
expect_rc 3 "second wrong PIN"
expect_in "1 try left — the next wrong PIN locks the token" err "the final try announced"
tool status
expect_in "user PIN:   1 try left — the next wrong PIN locks the token" out "status at the final try"
tool change-pin --pin-file pin2 --new-pin-file pin
expect_rc 10 "the final try without a terminal and without --force"
expect_in "add --force" err "the guard says how to go on"
tool status --json
[ "$(json_get 'j["slots"][0]["user_pin"]["state"]')" = final-try ] || fail "the refused try was spent: $out"

# on a terminal: the guard asks first; "no" sends nothing
pty_run change-pin <<EOF
expect Enter the PIN anyway\? \[y/N\]
send n
EOF
expect_rc 10 "answering no at the final try"
expect_in "only 1 try is left" out "the warning on the terminal"
tool status --json
[ "$(json_get 'j["slots"][0]["user_pin"]["state"]')" = final-try ] || fail "a try went after answering no"

# "yes", then the right PIN: no PIN on the screen or on any command line
pty_run change-pin <<EOF
expect Enter the PIN anyway\? \[y/N\]
send y
expect Enter the current user PIN of 'alice':
nops $T_PIN2
send $T_PIN2
expect Enter the new user PIN of 'alice':
send $T_PIN
expect Repeat it:
send $T_PIN
expect changed
EOF
expect_rc 0 "change-pin at the final try, confirmed on the terminal"
tool status --json
[ "$(json_get 'j["slots"][0]["user_pin"]["state"], j["slots"][0]["user_pin"]["tries_left"]')" = "('ok', 3)" ] ||
	fail "the tries are not back: $out"

# two different new PINs on the terminal change nothing
pty_run change-pin --pin-file pin <<EOF
expect Enter the new user PIN
send $T_PIN2
expect Repeat it:
send $T_WRONG
EOF
expect_rc 2 "two different new PINs"
expect_in "differ" out "the mismatch is named"

# an explicit --pin is hidden from ps once read
pty_run change-pin --pin "$T_PIN" <<EOF
expect Enter the new user PIN
nocmdline $T_PIN
send $T_PIN2
expect Repeat it:
send $T_PIN2
expect changed
EOF
expect_rc 0 "change-pin with --pin"

# wrong, wrong, then --force with a wrong PIN locks it
tool change-pin --pin-file wrong --new-pin-file pin
tool change-pin --pin-file wrong --new-pin-file pin
expect_rc 3 "second wrong PIN again"
tool change-pin --pin-file wrong --new-pin-file pin --force
expect_rc 3 "a wrong PIN at the final try with --force"
expect_in "locked: unblock with the administrator PIN" err "the lock is announced"
tool status --json
[ "$(json_get 'j["slots"][0]["user_pin"]["state"], j["slots"][0]["user_pin"]["tries_left"]')" = "('locked', 0)" ] ||
	fail "json after the lock: $out"
tool change-pin --pin-file pin2 --new-pin-file pin --force
expect_rc 4 "the right PIN on a locked token"
expect_in "signet-tool unblock" err "the way out is named"

# ---- unblock, change-admin-pin ----
tool unblock --admin-pin-file wrong --new-pin-file initial
expect_rc 3 "unblock with a wrong administrator PIN"
expect_in "wrong administrator PIN for 'alice': 4 of 5 tries left" err \
	"administrator tries after one wrong PIN, exact from signet's vendor interface"
tool status --json
[ "$(json_get 'j["slots"][0]["admin_pin"]["tries_left"], j["slots"][0]["admin_pin"]["tries_max"], j["slots"][0]["admin_pin"]["tries_exact"]')" = "(4, 5, True)" ] ||
	fail "json admin after one wrong PIN: $out"
# another module (SoftHSM itself) has no vendor interface: the words come from the flags and [policy]
SOFTHSM2_CONF=$work/softhsm2.conf tool status --module /usr/lib/softhsm/libsofthsm2.so --token alice --json
expect_rc 0 "status through a module without signet's vendor interface"
[ "$(json_get 'j["slots"][0]["admin_pin"]["text"], j["slots"][0]["admin_pin"]["tries_exact"]')" = \
	"('at most 4 of 5 tries left (a wrong PIN was entered)', False)" ] ||
	fail "the flags' words through SoftHSM: $out"
tool unblock --admin-pin-file admin --new-pin-file initial
expect_rc 0 "unblock"
expect_in "must change it" out "unblock says the PIN must be changed"
tool status
expect_in "user PIN:   3 of 3 tries left; must be changed" out "status after unblock"
expect_in "admin PIN:  5 of 5 tries left" out "the administrator's good PIN resets its count"
tool change-pin --pin-file initial --new-pin-file pin
expect_rc 0 "the owner changes the PIN the administrator set"
tool change-admin-pin --admin-pin-file admin --new-admin-pin-file pin2
expect_rc 0 "change-admin-pin"
tool unblock --admin-pin-file admin --new-pin-file initial
expect_rc 3 "the old administrator PIN no longer works"
tool change-admin-pin --admin-pin-file pin2 --new-admin-pin-file admin
expect_rc 0 "change-admin-pin back"

# ---- selection ----
tool init --label bob --admin-pin-file admin --new-pin-file initial
expect_rc 0 "a second token"
tool change-pin --pin-file initial --new-pin-file pin
expect_rc 8 "two tokens and no selection"
expect_in "alice" err "the choices are listed"
tool change-pin --token nobody --pin-file initial --new-pin-file pin
expect_rc 7 "a label no token has"
serial=$(tool status --token bob --json; json_get 'j["slots"][0]["serial"]')
tool change-pin --token "$serial" --pin-file initial --new-pin-file pin
expect_rc 0 "selection by serial"
tool status --token "pkcs11:token=bob;serial=$serial"
expect_rc 0 "selection by URI"
expect_in "token:      bob" out "the URI selects bob"
! grep -q alice <<<"$out" || fail "status --token shows other tokens"
slot=$(tool status --json; json_get '[s["slot"] for s in j["slots"] if s.get("label") == "alice"][0]')
tool status --slot "$slot"
expect_in "token:      alice" out "selection by slot"
tool status --token "pkcs11:token=bob;colour=blue"
expect_rc 2 "a URI with an attribute RFC 7512 does not define"

# ---- the module ----
tool status --module "$work/no-such-module.so"
expect_rc 1 "a module that cannot be loaded"
expect_in "--module or SIGNET_MODULE" err "the message says how to name the module"
SIGNET_MODULE=$work/no-such-module.so tool status
expect_rc 1 "SIGNET_MODULE naming a missing module"
SIGNET_MODULE=$work/no-such-module.so tool status --module "$MODULE" --json
expect_rc 0 "--module wins over SIGNET_MODULE"
[ "$(json_get 'j["module"]')" = "$MODULE" ] || fail "json module path: $out"

# ---- usage ----
tool frobnicate
expect_rc 2 "an unknown command"
tool status --frobnicate
expect_rc 2 "an unknown option"
tool status --new-pin-file pin
expect_rc 2 "an option that does not apply"
for c in status change-pin change-admin-pin unblock init set-retries keygen csr import-cert import-p12 export-cert \
	delete sign verify; do
	tool "$c" --help
	expect_rc 0 "$c --help"
	expect_in "usage: signet-tool $c" out "$c --help"
	grep -qE "^\.BI? \"?$c( |\"|$)" "$top/tools/signet-tool.1" || fail "signet-tool.1 does not describe $c"
done
tool --help
expect_in "Exit status" out "--help lists the exit codes"

tool_no_secrets_shown
echo "tool pin: all good"
