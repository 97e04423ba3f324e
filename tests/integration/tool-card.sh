#!/usr/bin/env bash
# signet-tool on the simulated card (a real pcscd, vpcd and tests/cardsim, personalised with
# the factory PIN and PUK, a P-256 key in 9A and an RSA-2048 key in 9C): status with the exact
# tries from signet's vendor interface and the PIV slot names, change-pin from the factory PIN,
# sign and verify with the 9C key (it wants the PIN for each signature) checked by openssl,
# selection by slot name, three wrong PINs and the lock, unblock with the PUK, set-retries,
# init (the reset) with a new PUK, then keygen, csr, a test CA's certificate, import-cert, sign.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "skip: the simulated card needs root (a private pcscd in its own mount namespace)"
	exit 0
fi
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card
. "$SIGNET_TOP/tests/lib/tool.sh"
set -e
card_conf "require_pin_change = yes"
seen=$work/seen-output
: > "$seen"
printf '%s\n' "$SIGNET_TEST_PIN" > "$work/factory"
printf '%s\n' "$SIGNET_TEST_PUK" > "$work/puk"
for name in PIN PIN2 WRONG; do
	var=T_$name
	printf '%s\n' "${!var}" > "$work/$(tr 'A-Z_' 'a-z-' <<<"$name")"
done
printf '%s\n' 55443322 > "$work/wrong2"
printf '%s\n' 66778899 > "$work/wrong3"
cd "$work"

# ---- status: exact tries, slot names ----
tool status --json
expect_rc 0 "status --json on the card"
card=$(json_get 'j["slots"][0]["serial"]')
[ "$(json_get 'j["slots"][0]["kind"], j["slots"][0]["user_pin"]["tries_left"], j["slots"][0]["user_pin"]["tries_max"], j["slots"][0]["user_pin"]["tries_exact"], j["slots"][0]["user_pin"]["must_change"]')" = \
	"('card', 3, 3, True, True)" ] || fail "the card's user PIN in status: $out"
[ "$(json_get 'j["slots"][0]["admin_pin"]["text"], j["slots"][0]["admin_pin"]["tries_exact"]')" = \
	"('5 of 5 tries left', True)" ] || fail "the card's PUK in status (read without spending a try): $out"
[ "$(json_get '[(c["id"], c["piv_slot"], c["key_type"]) for c in j["slots"][0]["certificates"]]')" = \
	"[('01', '9a', 'ec'), ('02', '9c', 'rsa')]" ] || fail "the card's certificates and their slots: $out"
tool status --token "$card"
expect_in "user PIN:   3 of 3 tries left; must be changed" out "the factory PIN must be changed, tries exact"
expect_in 'certificate id 02 (slot 9C) "Digital Signature"' out "status names the PIV slot"

# ---- change-pin from the factory PIN ----
tool sign /etc/hostname --token "$card" --id 9a --pin-file factory --out "$work/early.sig"
expect_rc 5 "signing with the factory PIN"
tool change-pin --token "$card" --pin-file factory --new-pin-file pin
expect_rc 0 "change-pin from the factory PIN"
tool status --token "$card"
! grep -q "must be changed" <<<"$out" || fail "the PIN is still to be changed: $out"

# ---- sign and verify with 9C (the PIN once for the login, again for the signature) ----
printf 'a document signed on the card\n' > doc.txt
tool sign doc.txt --token "$card" --id 9c --pin-file pin
expect_rc 0 "sign with the 9C key, selected by its slot name"
expect_in "key id 02" err "9c is the key with ID 02"
tool export-cert --token "$card" --id 9c --out 9c.pem
expect_rc 0 "export the 9C certificate by slot name"
openssl x509 -in 9c.pem -pubkey -noout > 9c.pub
openssl dgst -sha256 -verify 9c.pub -signature doc.txt.sig doc.txt >/dev/null || fail "openssl: the 9C signature"
tool verify doc.txt --token "$card" --id 9c
expect_rc 0 "signet-tool verifies the 9C signature"
tool sign doc.txt --cms --token "$card" --id 9a --pin-file pin
expect_rc 0 "a CMS signature with the 9A key"
openssl cms -verify -binary -inform DER -in doc.txt.p7s -content doc.txt -noverify -out /dev/null 2>/dev/null ||
	fail "openssl cms -verify: the 9A signature"
echo "ok openssl verifies both signatures"

# ---- three wrong PINs and the lock ----
tool change-pin --token "$card" --pin-file wrong --new-pin-file pin2
expect_rc 3 "first wrong PIN"
expect_in "2 of 3 tries left" err "the card's count after one wrong PIN"
tool change-pin --token "$card" --pin-file wrong2 --new-pin-file pin2
expect_rc 3 "second wrong PIN"
expect_in "1 try left — the next wrong PIN locks the token" err "the final try announced"
tool change-pin --token "$card" --pin-file wrong3 --new-pin-file pin2
expect_rc 10 "the final try needs --force"
tool change-pin --token "$card" --pin-file wrong3 --new-pin-file pin2 --force
expect_rc 3 "the third wrong PIN"
expect_in "locked: unblock with the administrator PIN" err "the third wrong PIN locks the card"
tool change-pin --token "$card" --pin-file pin --new-pin-file pin2 --force
expect_rc 4 "the right PIN on the locked card: nothing sent"
tool status --token "$card" --json
[ "$(json_get 'j["slots"][0]["user_pin"]["state"], j["slots"][0]["user_pin"]["tries_left"]')" = "('locked', 0)" ] ||
	fail "the lock in status: $out"
capture piv -a verify-pin -P "$T_PIN"
expect_rc 1 "the card itself has blocked the PIN (yubico-piv-tool)"

# ---- unblock with the PUK ----
tool unblock --token "$card" --admin-pin-file puk --new-pin-file pin2
expect_rc 0 "unblock with the PUK"
tool status --token "$card" --json
[ "$(json_get 'j["slots"][0]["user_pin"]["tries_left"], j["slots"][0]["user_pin"]["must_change"]')" = "(3, True)" ] ||
	fail "after the unblock: $out"
puk_tries=$(json_get 'j["slots"][0]["admin_pin"]["tries_left"], j["slots"][0]["admin_pin"]["tries_max"]')
[ "$puk_tries" = "(5, 5)" ] || fail "the PUK's tries after its good use: $out"
tool change-pin --token "$card" --pin-file pin2 --new-pin-file pin
expect_rc 0 "the owner changes the PIN the administrator set"

# ---- set-retries: the card's own limits, and its factory PIN and PUK afterwards ----
tool set-retries 3 5 --token "$card" --pin-file pin
expect_rc 10 "set-retries without the label typed back or --yes"
expect_in "factory 123456" err "set-retries says first what it does to the PIN"
tool set-retries 3 5 --token "$card" --pin-file pin --yes
expect_rc 0 "set-retries on the card"
expect_in "signet-tool change-pin --token 'YubiKey PIV #$card'" out "set-retries says what to do next"
tool status --token "$card"
expect_in "user PIN:   3 of 3 tries left; must be changed" out "the factory PIN after set-retries"
tool change-pin --token "$card" --pin-file factory --new-pin-file pin
expect_rc 0 "the owner sets the PIN again after set-retries"

# ---- init (the card's reset): no new PUK, nothing blocked; then the whole procedure ----
tool init --token "$card" --yes
expect_rc 2 "init without a new PUK (no terminal)"
tool status --token "$card" --json
[ "$(json_get 'j["slots"][0]["user_pin"]["tries_left"]')" = 3 ] || fail "the refused init touched the PIN: $out"
[ "$(json_get 'j["slots"][0]["admin_pin"]["tries_left"], j["slots"][0]["admin_pin"]["tries_max"]')" = "$puk_tries" ] ||
	fail "the refused init touched the PUK: $out"
capture piv -a verify-pin -P "$T_PIN"
expect_rc 0 "the card's own PIN still works (yubico-piv-tool)"
printf '%s\n' 24681357 > newpuk
tool init --token "$card" --yes --new-admin-pin-file newpuk
expect_rc 0 "init resets the card"
expect_in "the PIN is blocked" err "the PIN was blocked on purpose"
expect_in "the PUK is blocked" err "the PUK was blocked on purpose"
tool status --token "$card" --json
[ "$(json_get 'j["slots"][0]["certificates"], j["slots"][0]["user_pin"]["must_change"]')" = "([], True)" ] ||
	fail "after the reset: no certificates, the factory PIN to be changed: $out"
capture piv -a verify-pin -P "$SIGNET_TEST_PIN"
expect_rc 0 "the factory PIN after the reset (yubico-piv-tool)"
tool unblock --token "$card" --admin-pin-file newpuk --new-pin-file pin2
expect_rc 0 "the new PUK chosen at the reset works"
tool change-pin --token "$card" --pin-file pin2 --new-pin-file pin
expect_rc 0 "the owner sets a PIN after the reset"

# ---- keygen, csr, a test CA, import-cert on the card (empty since the reset) ----
tool keygen --type p256 --token "$card" --id 9a --pin-file pin
expect_rc 0 "keygen P-256 into 9A"
expect_in "id 01" out "9a is the key with ID 01"
tool keygen --type p256 --token "$card" --id 9a --pin-file pin
expect_rc 10 "a second keygen into 9A without --replace"
tool csr --token "$card" --id 9a --subject "/CN=Card User" --out 9a.csr --pin-file pin
expect_rc 0 "csr with the new 9A key"
openssl req -in 9a.csr -noout -verify 2>/dev/null || fail "openssl req -verify: the 9A request"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=signet test CA" -days 30 2>/dev/null
openssl x509 -req -in 9a.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out 9a.pem 2>/dev/null
tool import-cert 9a.pem --token "$card" --pin-file pin
expect_rc 0 "import-cert into 9A"
tool status --token "$card"
expect_in 'certificate id 01 (slot 9A) ' out "the new certificate in 9A"
expect_in 'CN=Card User' out "the new certificate's subject"
tool sign doc.txt --token "$card" --id 9a --pin-file pin --out doc.9a.sig
expect_rc 0 "sign with the new 9A key"
openssl x509 -in 9a.pem -pubkey -noout > 9a.pub
openssl dgst -sha256 -verify 9a.pub -signature doc.9a.sig doc.txt >/dev/null || fail "openssl: the new 9A signature"
# ---- change-admin-pin (the PUK), import-p12 and delete on the card ----
printf '%s\n' 13572468 > puk2
tool change-admin-pin --token "$card" --admin-pin-file newpuk --new-admin-pin-file puk2
expect_rc 0 "change-admin-pin changes the card's PUK"
tool change-admin-pin --token "$card" --admin-pin-file puk2 --new-admin-pin-file newpuk
expect_rc 0 "the new PUK is the card's (and changes back)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout p12.key -out p12.pem \
	-subj "/CN=Card p12 holder" -days 30 2>/dev/null
printf '%s\n' "p12 secret" > p12pw
openssl pkcs12 -export -inkey p12.key -in p12.pem -out card.p12 -passout "file:$work/p12pw"
tool import-p12 card.p12 --token "$card" --id 9d --pin-file pin --password-file p12pw
expect_rc 0 "import-p12 into 9D"
tool status --token "$card" --json
[ "$(json_get '[(c["id"], c["piv_slot"], c["subject"], c["has_key"]) for c in j["slots"][0]["certificates"] if c["id"] == "03"]')" = \
	"[('03', '9d', 'CN=Card p12 holder', True)]" ] || fail "the .p12's certificate and key in 9D: $out"
tool delete --token "$card" --id 9d --pin-file pin --yes
expect_rc 0 "delete the 9D certificate and key"
tool status --token "$card" --json
[ "$(json_get 'len([c for c in j["slots"][0]["certificates"] if c["id"] == "03"]), len([k for k in j["slots"][0]["keys"] if k["id"] == "03"])')" = \
	"(0, 0)" ] || fail "9D is empty after delete: $out"
[ "$(piv_apdu 00F7009D | tail -n 1)" = 6A88 ] || fail "the card itself still holds a key in 9D"
# ---- a key-management key signs its own request; then its certificate says what it is for ----
tool keygen --type p256 --token "$card" --id 9d --pin-file pin
expect_rc 0 "keygen P-256 into 9D"
tool csr --token "$card" --id 9d --subject "/CN=Card User encryption" --out 9d.csr --pin-file pin
expect_rc 0 "csr with the new 9D key (no certificate yet)"
openssl req -in 9d.csr -noout -verify 2>/dev/null || fail "openssl req -verify: the 9D request"
printf 'keyUsage = critical, keyAgreement\n' > 9d.ext
openssl x509 -req -in 9d.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile 9d.ext -out 9d.pem 2>/dev/null
tool import-cert 9d.pem --token "$card" --pin-file pin
expect_rc 0 "import-cert into 9D"
tool sign doc.txt --token "$card" --id 9d --pin-file pin --out doc.9d.sig
expect_rc 9 "a key certified for key agreement only does not sign"
expect_in 'this key is not for that' err "the refusal says why"
tool_no_secrets_shown
echo "tool card: all good"
