#!/usr/bin/env bash
# signet-tool keygen and delete on the fallback token: every key type the token
# has, the first free ID, --replace and the typed-back label before anything is
# destroyed (on a terminal through a pseudo-terminal, and --yes without one),
# the spinner only on a terminal, an unsupported key type, and login failures.
set -euo pipefail
. "$(dirname "$0")/../lib/tool.sh"
tool_setup
cd "$work"
tool_token keys

tool keygen --type rsa2048 --pin-file pin
expect_rc 0 "keygen rsa2048"
expect_in "id 01" out "the first free ID"
expect_in "pkcs11:token=keys;serial=" out "the key's URI"
tool keygen --type p256 --label signing --pin-file pin
expect_rc 0 "keygen p256"
expect_in 'id 02, label "signing"' out "the next ID and the label"
tool keygen --type p384 --id 0a --pin-file pin
expect_rc 0 "keygen p384 with an ID"
tool keygen --type ed25519 --pin-file pin
expect_rc 0 "keygen ed25519"
expect_in "id 03" out "the lowest free ID"
tool keygen --type x25519 --pin-file pin
expect_rc 9 "x25519 on SoftHSM 2.6"
expect_in "cannot generate X25519 keys" err "the message says what is missing"
tool keygen --type rsa1024 --pin-file pin
expect_rc 2 "an unknown key type"
tool keygen --type p256 --pin-file wrong
expect_rc 3 "keygen with a wrong PIN"

tool status --json
[ "$(json_get 'sorted((k["id"], k["key_type"], k["key_bits"], k["curve"]) for k in j["slots"][0]["keys"])')" = \
	"[('01', 'rsa', 2048, None), ('02', 'ec', 256, 'P-256'), ('03', 'ed25519', 256, None), ('0a', 'ec', 384, 'P-384')]" ] ||
	fail "keys in status: $out"
tool status
expect_in 'key id 02 "signing": EC P-256, no certificate yet' out "status lists the key"

# an ID that holds a key: --replace, then the label typed back (or --yes)
tool keygen --type p256 --id 02 --pin-file pin
expect_rc 10 "keygen into an ID that holds a key"
expect_in "needs --replace" err "the guard names the option"
expect_in 'private key id 02 "signing" (EC P-256)' err "what would be deleted is listed"
tool keygen --type p256 --id 02 --replace --pin-file pin
expect_rc 10 "--replace without a terminal and without --yes"
pty_run keygen --type p384 --id 02 --replace --pin-file pin <<EOF
expect Type the token's label \(keys\) to go ahead:
send kes
EOF
expect_rc 10 "a mistyped label"
tool status --json
[ "$(json_get '[k["curve"] for k in j["slots"][0]["keys"] if k["id"] == "02"]')" = "['P-256']" ] ||
	fail "the key was replaced after a mistyped label: $out"
pty_run keygen --type p384 --id 02 --replace --pin-file pin <<EOF
expect Type the token's label \(keys\) to go ahead:
send keys
expect generating the key on the token
expect New EC P-384 key pair
EOF
expect_rc 0 "replace after the label was typed back; the spinner shows on a terminal"
tool keygen --type p256 --id 02 --replace --yes --pin-file pin
expect_rc 0 "replace with --yes"
! grep -q "generating the key" "$work/err" || fail "the spinner shows on a pipe"
tool status --json
[ "$(json_get '[(k["curve"], k["label"]) for k in j["slots"][0]["keys"] if k["id"] == "02"]')" = "[('P-256', 'p256')]" ] ||
	fail "exactly one new key in ID 02: $out"

# delete
tool delete --pin-file pin
expect_rc 2 "delete without saying what"
tool delete --id 0b --pin-file pin --yes
expect_rc 7 "delete an ID that holds nothing"
tool delete --id 0a --pin-file pin
expect_rc 10 "delete without a terminal and without --yes"
expect_in 'private key id 0a "p384" (EC P-384)' err "delete lists what goes"
tool delete --id 0a --type bogus --pin-file pin --yes
expect_rc 2 "delete --type bogus"
pty_run delete --label ed25519 --pin-file pin <<EOF
expect Type the token's label \(keys\) to go ahead:
send keys
expect Deleted 2 objects
EOF
expect_rc 0 "delete by label, confirmed on the terminal"
tool delete --token "pkcs11:token=keys;id=%0a" --pin-file pin --yes
expect_rc 0 "delete by URI with --yes"
tool status --json
[ "$(json_get 'sorted(k["id"] for k in j["slots"][0]["keys"])')" = "['01', '02']" ] || fail "after delete: $out"

tool_no_secrets_shown
echo "tool keys: all good"
