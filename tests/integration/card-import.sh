#!/usr/bin/env bash
# Certificates and imported keys through C_CreateObject, and C_DestroyObject,
# on a card with no keys: a key made on the card gets its certificate from a
# test CA (CSR through signet-tool) and is found with it by CKA_ID; a .p12's key
# and certificate go onto the card with pkcs11-tool; a certificate goes to
# the slot whose key it certifies, or where CKA_ID says; a certificate or a
# key is deleted. Runs with extended-length APDUs and with a card that
# refuses them (an RSA import and a certificate are chained then).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
both_variants --personalize empty
card_conf
pin=$SIGNET_TEST_PIN
P=(sig_p11 --login --pin "$pin")
object() { piv_apdu "00CB3FFF055C03$1" | tail -n 1 | tail -c 5; }

# ---- a test CA ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" -days 30 \
	-subj "/CN=signet test CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null || fail "test CA"
issue() { # csr cert
	openssl x509 -req -in "$1" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 30 \
		-out "$2" 2> /dev/null || fail "the CA issues $2"
}

# ---- a key made on the card, its certificate from the CA ----
expect "a key in 9A" init slots open login:user:"$pin" gen:p256:01 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
gen: CKR_OK 01
finalize: CKR_OK
EOF
printf '%s' "$pin" > "$work/pin"
csr() { "$SIGNET_BUILD/signet-tool" csr --module "$module" --pin-file "$work/pin" "$@"; }
check_rc "a CSR" 0 csr --id 01 --subject "/CN=card holder" --out "$work/holder.csr"
issue "$work/holder.csr" "$work/holder.pem"
openssl x509 -in "$work/holder.pem" -outform DER -out "$work/holder.der"
check_rc "pkcs11-tool writes the certificate (no CKA_ID)" 0 "${P[@]}" --write-object "$work/holder.der" --type cert \
	--label holder
check_match "it went to the slot of its key" "^5382" "$(piv_apdu 00CB3FFF055C035FC10500 | tail -n 1)"
rm -rf "$work/cache"
expect "the certificate, found with its key by CKA_ID" init slots open find:cert attr:id find:cert:01 attr:label \
	login:user:"$pin" find:priv:01 sign:01:ECDSA-SHA256 token finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
attr: CKR_OK 01
find: CKR_OK 1
attr: CKR_OK PIV Authentication
login: CKR_OK
find: CKR_OK 1
sign: CKR_OK verified
token: CKR_OK YubiKey PIV #$(card_serial)|$(card_serial)|6-8
finalize: CKR_OK
EOF
check_rc "openssl: the CA's certificate verifies" 0 openssl verify -CAfile "$work/ca.pem" "$work/holder.pem"
# A certificate written again: a handle to the old one names nothing; the key's handle stays good.
expect "old handles after a certificate is rewritten" init slots open login:user:"$pin" find:priv:01 keep \
	find:cert:01 writecert:"$work/holder.pem":01 attr:label use attr:label find:cert:01 keep \
	writecert:"$work/holder.pem":01 use attr:label finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
keep: CKR_OK
find: CKR_OK 1
writecert: CKR_OK 01
attr: CKR_OK PIV Authentication
use: CKR_OK
attr: CKR_OK PIV Authentication
find: CKR_OK 1
keep: CKR_OK
writecert: CKR_OK 01
use: CKR_OK
attr: CKR_OBJECT_HANDLE_INVALID
finalize: CKR_OK
EOF

# ---- a certificate of a key the card does not hold ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other.key" \
	-out "$work/other.pem" -days 30 -subj "/CN=someone else" 2> /dev/null || fail "another certificate"
expect "only where its key is, or where CKA_ID says" init slots open login:user:"$pin" writecert:"$work/other.pem" \
	writecert:"$work/other.pem":04 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
writecert: CKR_TEMPLATE_INCONSISTENT
writecert: CKR_TEMPLATE_INCONSISTENT
finalize: CKR_OK
EOF
check_match "the log says why" "no key on the card in .* matches the certificate \(CN=someone else\)" \
	"$(cat "$work/drive.err")"
check_match "... and for an empty slot" "slot 9E of the card in .* holds no key" "$(cat "$work/drive.err")"
check "nothing written" "6A82" "$(object 5FC10100)"

# ---- a .p12 from a CA: its RSA key and certificate onto the card ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/p12.key" -out "$work/p12.pem" -days 30 \
	-subj "/CN=card p12 holder" 2> /dev/null || fail "p12 parts"
openssl pkcs12 -export -inkey "$work/p12.key" -in "$work/p12.pem" -passout pass:secret -out "$work/ca.p12" ||
	fail "p12"
openssl pkcs12 -in "$work/ca.p12" -passin pass:secret -nocerts -nodes -out "$work/from-p12.key" 2> /dev/null ||
	fail "p12 key"
openssl pkcs12 -in "$work/ca.p12" -passin pass:secret -nokeys -clcerts 2> /dev/null |
	openssl x509 -outform DER -out "$work/from-p12.der" || fail "p12 certificate"
check_rc "pkcs11-tool imports the key" 0 "${P[@]}" --write-object "$work/from-p12.key" --type privkey --id 03
check_match "the card holds an imported RSA-2048 key in 9D" "^010107.*030102" "$(card_metadata 9D)"
check_rc "pkcs11-tool writes its certificate" 0 "${P[@]}" --write-object "$work/from-p12.der" --type cert
# A card derives each public key from its private key: writing the one it has names that object.
openssl pkey -in "$work/from-p12.key" -pubout -outform DER -out "$work/from-p12.pub" 2> /dev/null || fail "p12 public key"
check_rc "pkcs11-tool writes the key's public key" 0 "${P[@]}" --write-object "$work/from-p12.pub" --type pubkey --id 03
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2> /dev/null |
	openssl pkey -pubout -outform DER -out "$work/stranger.pub" 2> /dev/null || fail "a stranger's public key"
check_rc "a public key no card key has is refused" 1 "${P[@]}" --write-object "$work/stranger.pub" --type pubkey --id 03
check_match "with a log line" "no key on the card in .* has the public key written under that CKA_ID" \
	"$out"
expect "the imported key" init slots open login:user:"$pin" find:cert:03 attr:destroyable find:priv:03 attr:local \
	attr:sensitive attr:never_extractable attr:always_sensitive attr:destroyable decrypt:03:RSA-PKCS-OAEP \
	importkey:"$work/from-p12.key":03 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
attr: CKR_OK true
find: CKR_OK 1
attr: CKR_OK false
attr: CKR_OK true
attr: CKR_OK false
attr: CKR_OK false
attr: CKR_OK true
decrypt: CKR_OK matches
importkey: CKR_ACTION_PROHIBITED
finalize: CKR_OK
EOF
check_match "the refusal names the slot and the certificate" \
	"slot 9D of the card in .* holds a key \(CN=card p12 holder\): not replaced" "$(cat "$work/drive.err")"

# ---- an EC key imported through the C driver, and replacing one when asked ----
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/p384.key" 2> /dev/null || fail "P-384"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/p256.key" 2> /dev/null || fail "P-256"
expect "EC keys imported" init slots open login:user:"$pin" importkey:"$work/p384.key":04 sign:04:ECDSA-SHA384 \
	importkey:"$work/p256.key":04 importkey:"$work/p256.key":04:replace,pin=3 attr:always_auth ctxpin:"$pin" \
	sign:04:ECDSA-SHA256 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
importkey: CKR_OK 04
sign: CKR_OK verified
importkey: CKR_ACTION_PROHIBITED
importkey: CKR_OK 04
attr: CKR_OK true
ctxpin: CKR_OK
sign: CKR_OK verified
finalize: CKR_OK
EOF
openssl pkey -in "$work/p256.key" -pubout -outform DER -out "$work/p256.pub"
drive init slots open pubkey:04:"$work/card04.pub" finalize
check_match "the card's 9E public key" "pubkey: CKR_OK" "$out"
check "same public key" "$(od -An -tx1 "$work/p256.pub")" "$(od -An -tx1 "$work/card04.pub")"

# ---- deleting ----
expect "delete a certificate and a key" init slots open find:pub:01 destroy login:user:"$pin" find:cert:03 destroy \
	find:cert:03 find:priv:03 find:priv:04 destroy find:priv:04 find:pub:04 find:pub:01 attr:destroyable destroy \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
destroy: CKR_USER_NOT_LOGGED_IN
login: CKR_OK
find: CKR_OK 1
destroy: CKR_OK
find: CKR_OK 0
find: CKR_OK 1
find: CKR_OK 1
destroy: CKR_OK
find: CKR_OK 0
find: CKR_OK 0
find: CKR_OK 1
attr: CKR_OK false
destroy: CKR_ACTION_PROHIBITED
finalize: CKR_OK
EOF
check "the 9D certificate object is empty" "6A82" "$(object 5FC10B00)"
check "the 9E key is gone from the card" "6A88" "$(card_metadata 9E)"
check_match "the 9D key stays" "^010107" "$(card_metadata 9D)"
rm -rf "$work/cache"
expect "another process sees the same" init slots open find:cert find:pub login:user:"$pin" find:priv finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
find: CKR_OK 2
login: CKR_OK
find: CKR_OK 2
finalize: CKR_OK
EOF
