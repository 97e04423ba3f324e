#!/usr/bin/env bash
# The journey a CA's instructions describe, with signet-tool on the fallback
# token: keys, certificate requests, a test CA (openssl) issues the
# certificates, import-cert, status, sign and verify (raw and CMS, each
# checked by openssl too), export-cert, a .p12 import with its chain, and the
# exit codes on the way (PIN to be changed, not found, ambiguous, bad signature).
set -euo pipefail
. "$(dirname "$0")/../lib/tool.sh"
tool_setup
cd "$work"

tool init --label journey --admin-pin-file admin --new-pin-file initial
expect_rc 0 "init"
tool keygen --type rsa2048 --label rsa --pin-file initial
expect_rc 0 "keygen before the PIN is changed"
tool csr --subject "/CN=Alice" --pin-file initial
expect_rc 5 "a request signed with the PIN still to be changed"
expect_in "change-pin" err "the way out is named"
tool change-pin --pin-file initial --new-pin-file pin
expect_rc 0 "change-pin"
tool keygen --type p256 --label ec --pin-file pin
expect_rc 0 "keygen p256"

# ---- requests, signed on the token ----
tool csr --subject "/CN=Alice Example/O=Example Org/emailAddress=alice@example.org" --id 01 --pin-file pin \
	--out alice.csr
expect_rc 0 "csr for the RSA key"
openssl req -in alice.csr -noout -verify 2>&1 | grep -q "verify OK" || fail "openssl does not verify the RSA request"
[ "$(openssl req -in alice.csr -noout -subject -nameopt RFC2253)" = \
	"subject=emailAddress=alice@example.org,O=Example Org,CN=Alice Example" ] || fail "request subject"
tool csr --subject "/CN=Alice EC" --token "pkcs11:token=journey;object=ec;type=private" --pin-file pin
expect_rc 0 "csr to standard output, the key chosen by URI"
printf '%s\n' "$out" > ec.csr
openssl req -in ec.csr -noout -verify 2>&1 | grep -q "verify OK" || fail "openssl does not verify the EC request"
tool csr --subject "/CN=Alice" --pin-file pin
expect_rc 8 "csr with two keys and no selection"
tool csr --subject "/CN=Alice" --id 09 --pin-file pin
expect_rc 7 "csr for an ID that holds no key"
tool csr --subject "CN=Alice" --id 01 --pin-file pin
expect_rc 2 "a subject not written as /CN=..."
tool csr --subject "/CN=Alice" --id 01 --pin-file wrong
expect_rc 3 "csr with a wrong PIN"
tool change-pin --pin-file pin --new-pin-file pin2
tool change-pin --pin-file pin2 --new-pin-file pin
expect_rc 0 "a good PIN resets the count"

# ---- a test CA issues the certificates ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=signet test CA" -days 30 2>/dev/null
openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -out alice.pem 2>/dev/null
openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -outform DER -out ec.der 2>/dev/null

tool import-cert alice.pem --pin-file pin
expect_rc 0 "import-cert (PEM)"
expect_in "with id 01, next to its key" out "the certificate found its key"
tool import-cert ec.der --pin-file pin
expect_rc 0 "import-cert (DER)"
tool import-cert alice.pem --pin-file pin
expect_rc 0 "the same certificate again"
expect_in "holds this certificate already" out "nothing to do"
tool import-cert ca.pem --pin-file pin
expect_rc 7 "a CA certificate without --id"
tool import-cert ca.pem --id ca --pin-file pin
expect_rc 0 "a CA certificate with --id"
tool import-cert alice.pem --id 02 --pin-file pin
expect_rc 2 "--id that is not the key's"

tool status --json
cert() { json_get "[c for c in j['slots'][0]['certificates'] if c['id'] == '$1'][0]$2"; }
[ "$(cert 01 '["subject"]')" = "CN=Alice Example, O=Example Org, emailAddress=alice@example.org" ] || fail "json subject"
[ "$(cert 01 '["issuer"]')" = "CN=signet test CA" ] || fail "json issuer"
[ "$(cert 01 '["key_type"]'),$(cert 01 '["key_bits"]'),$(cert 01 '["has_key"]'),$(cert 01 '["label"]')" = \
	"rsa,2048,True,rsa" ] || fail "json certificate key: $out"
days=$(cert 02 '["days_left"]')
[ "$days" -ge 363 ] && [ "$days" -le 365 ] || fail "days left: $days"
[ "$(cert ca '["has_key"]')" = False ] || fail "the CA certificate has no key"
[ "$(json_get '[k["has_certificate"] for k in j["slots"][0]["keys"]]')" = "[True, True]" ] || fail "keys paired"
tool status
expect_in "certificate id 02 \"ec\": CN=Alice EC" out "status text"
expect_in "key:      EC P-256, key pair on the token" out "status shows the key"

# ---- export-cert ----
tool export-cert --id 01
expect_rc 0 "export-cert"
[ "$(openssl x509 -noout -fingerprint <<<"$out")" = "$(openssl x509 -in alice.pem -noout -fingerprint)" ] ||
	fail "the exported certificate differs"
tool export-cert --id 02 --der --out ec-export.der
cmp -s ec-export.der ec.der || fail "export-cert --der"
tool export-cert --label ec --json
[ "$(json_get 'j["subject"], j["key_type"], j["id"]')" = "('CN=Alice EC', 'ec', '02')" ] || fail "export json: $out"
# (through a variable: openssl may stop reading at the PEM's end line, before the writer is done)
pem=$(json_get 'j["pem"]')
openssl x509 -noout -fingerprint <<<"$pem" >/dev/null || fail "the JSON PEM does not parse"
tool export-cert
expect_rc 8 "export-cert with three certificates and no selection"

# ---- sign and verify ----
printf 'The contract, signed on %s.\n' "$(date -u +%F)" > doc.txt
tool sign doc.txt --id 01 --pin-file pin
expect_rc 0 "sign with RSA"
openssl x509 -in alice.pem -pubkey -noout > alice.pub
openssl dgst -sha256 -verify alice.pub -signature doc.txt.sig doc.txt >/dev/null || fail "openssl: RSA signature"
tool verify doc.txt --id 01
expect_rc 0 "verify with the token's certificate"
expect_in "Good signature on doc.txt by CN=Alice Example" out "verify names the signer"
tool sign doc.txt --id 01 --pss --hash sha384 --out doc.pss --pin-file pin
expect_rc 0 "sign with RSA-PSS and SHA-384"
openssl dgst -sha384 -sigopt rsa_padding_mode:pss -verify alice.pub -signature doc.pss doc.txt >/dev/null ||
	fail "openssl: PSS signature"
tool verify doc.txt --cert alice.pem --signature doc.pss --pss --hash sha384 --json
expect_rc 0 "verify PSS with --cert"
[ "$(json_get 'j["valid"], j["kind"]')" = "(True, 'raw')" ] || fail "verify json"
tool sign doc.txt --label ec --out doc.ec --pin-file pin
expect_rc 0 "sign with ECDSA"
openssl x509 -inform DER -in ec.der -pubkey -noout > ec.pub
openssl dgst -sha256 -verify ec.pub -signature doc.ec doc.txt >/dev/null || fail "openssl: ECDSA signature"
tool verify doc.txt --label ec --signature doc.ec
expect_rc 0 "verify ECDSA"
tool sign doc.txt --id 01 --pin-file wrong
expect_rc 3 "sign with a wrong PIN"
tool sign missing.txt --id 01 --pin-file pin
expect_rc 2 "sign a file that is not there"

cp doc.txt forged.txt
printf 'One more clause.\n' >> forged.txt
tool verify forged.txt --id 01 --signature doc.txt.sig
expect_rc 11 "a changed document"
tool verify forged.txt --id 01 --signature doc.txt.sig --json
expect_rc 11 "a changed document, as JSON"
[ "$(json_get 'j["valid"]')" = False ] || fail "json says valid"
tool verify doc.txt --id 02 --signature doc.txt.sig
expect_rc 11 "another key's signature"

# CMS, checked by openssl cms as a receiver would
tool sign doc.txt --id 01 --cms --pin-file pin
expect_rc 0 "sign --cms"
openssl cms -verify -binary -inform DER -in doc.txt.p7s -content doc.txt -CAfile ca.pem -purpose any \
	-out /dev/null 2>/dev/null || fail "openssl cms does not verify"
openssl cms -verify -binary -inform DER -in doc.txt.p7s -content forged.txt -CAfile ca.pem -purpose any \
	-out /dev/null 2>/dev/null && fail "openssl cms verifies a changed document"
tool verify doc.txt --cms --ca ca.pem --json
expect_rc 0 "verify --cms with the CA"
[ "$(json_get 'j["valid"], j["chain_checked"], j["signer"]')" = \
	"(True, True, 'CN=Alice Example, O=Example Org, emailAddress=alice@example.org')" ] || fail "cms json: $out"
tool verify forged.txt --cms --signature doc.txt.p7s
expect_rc 11 "verify --cms of a changed document"
tool verify doc.txt --cms --id 02
expect_rc 11 "verify --cms insisting on another signer"
tool sign doc.txt --label ec --cms --out doc.ec.p7s --pin-file pin
expect_rc 0 "sign --cms with ECDSA"
tool verify doc.txt --cms --label ec --signature doc.ec.p7s
expect_rc 0 "verify --cms with the token's certificate"
tool keygen --type p384 --id 05 --pin-file pin
tool sign doc.txt --id 05 --cms --pin-file pin
expect_rc 7 "sign --cms with a key that has no certificate"

# ---- a .p12 from the CA, with its chain ----
openssl req -newkey rsa:2048 -nodes -keyout bob.key -out bob.csr -subj "/CN=Bob Builder" 2>/dev/null
openssl x509 -req -in bob.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 100 -out bob.pem 2>/dev/null
openssl pkcs12 -export -inkey bob.key -in bob.pem -certfile ca.pem -name "Bob's signing key" -out bob.p12 \
	-passout "file:$work/p12-password"
tool import-p12 bob.p12 --pin-file pin --password-file pin
expect_rc 2 "import-p12 with a wrong password"
pty_run import-p12 bob.p12 --pin-file pin <<EOF
expect Enter the password of bob.p12:
nops $T_P12_PASSWORD
send $T_P12_PASSWORD
expect Imported
EOF
expect_rc 0 "import-p12 with the password typed on a terminal"
expect_in "with id 03, label \"Bob's signing key\": the RSA 2048 key and its certificate CN=Bob Builder." out \
	"import-p12 says what came in (the CA was on the token already)"
tool status --json
[ "$(cert 03 '["subject"]'),$(cert 03 '["has_key"]')" = "CN=Bob Builder,True" ] || fail "p12 certificate: $out"
tool sign doc.txt --label "Bob's signing key" --out doc.bob --pin-file pin
expect_rc 0 "sign with the imported key"
openssl dgst -sha256 -verify <(openssl x509 -in bob.pem -pubkey -noout) -signature doc.bob doc.txt >/dev/null ||
	fail "openssl: the imported key's signature"
P12PW=$T_P12_PASSWORD tool import-p12 bob.p12 --id 03 --pin-file pin --password-env P12PW
expect_rc 10 "import-p12 into an ID that holds a key"
P12PW=$T_P12_PASSWORD tool import-p12 bob.p12 --id 03 --replace --yes --pin-file pin --password-env P12PW
expect_rc 0 "import-p12 --replace --yes"
tool status --json
[ "$(json_get 'len([c for c in j["slots"][0]["certificates"] if c["id"] == "03"]), len([k for k in j["slots"][0]["keys"] if k["id"] == "03"])')" = \
	"(1, 1)" ] || fail "one certificate and one key in ID 03 after --replace: $out"

# an older .p12 (RC2 and 3DES, as many CAs still make them) with a P-384 key
openssl ecparam -name secp384r1 -genkey -noout -out old.key
openssl req -x509 -key old.key -out old.pem -subj "/CN=Old Style" -days 10
openssl pkcs12 -export -legacy -inkey old.key -in old.pem -out old.p12 -passout "file:$work/p12-password"
tool import-p12 old.p12 --label old --pin-file pin --password-file p12-password
expect_rc 0 "import-p12 of a legacy file"
tool sign doc.txt --label old --cms --out doc.old.p7s --pin-file pin
expect_rc 0 "sign --cms with the imported P-384 key"
openssl cms -verify -binary -inform DER -in doc.old.p7s -content doc.txt -CAfile old.pem -purpose any \
	-out /dev/null 2>/dev/null || fail "openssl cms: the P-384 signature"

tool_no_secrets_shown
echo "tool journey: all good"
