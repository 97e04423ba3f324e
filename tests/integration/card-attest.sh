#!/usr/bin/env bash
# YubiKey attestation through signet: a certificate object per key generated on
# the card (CKA_ID of its slot, CKA_CERTIFICATE_CATEGORY 3, "Attestation of
# <slot>") and the intermediate ("PIV Attestation", category 2), found by a
# search that names their category or label and by no other (so the listing's
# APDU budget does not change); the certificate read through PKCS#11 verifies
# against the card's attestation certificate and holds the slot's public key;
# an imported key has none; a second process finds them in the cache. Runs
# with extended-length APDUs and with a card that refuses them.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
both_variants
card_conf

# An imported key in 9D: the card attests only keys it generated.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/imported.pem" 2> /dev/null
piv -a import-key -s 9d -i "$work/imported.pem" > /dev/null 2>&1 || fail "import into 9D"

# Two attestations and the intermediate: 3 APDUs, or 7 where each long answer comes in parts.
attest_apdus=3
[ "$variant" = short ] && attest_apdus=7
expect "found by category, once read no APDU" init slots open find:cert mark find:attest apdus \
	find:attest:01 attr:label find:attest:02 attr:label find:attest:03 find:attestca attr:label attr:id apdus \
	find:cert finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 2
mark: CKR_OK
find: CKR_OK 2
apdus: CKR_OK $attest_apdus
find: CKR_OK 1
attr: CKR_OK Attestation of PIV Authentication
find: CKR_OK 1
attr: CKR_OK Attestation of Digital Signature
find: CKR_OK 0
find: CKR_OK 1
attr: CKR_OK PIV Attestation
attr: CKR_OK f9
apdus: CKR_OK 0
find: CKR_OK 2
finalize: CKR_OK
EOF

expect "a second process reads them from the cache" init slots open mark find:attest find:attestca apdus \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
mark: CKR_OK
find: CKR_OK 2
find: CKR_OK 1
apdus: CKR_OK 0
finalize: CKR_OK
EOF

# A handle to an attestation stays valid when a key's metadata, asked for later, remakes the objects.
rm -rf "$work/cache"
expect "an attestation handle outlives the objects made again" init slots open find:attest:01 keep \
	find:pub:01 attr:local use attr:label finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
keep: CKR_OK
find: CKR_OK 1
attr: CKR_OK true
use: CKR_OK
attr: CKR_OK Attestation of PIV Authentication
finalize: CKR_OK
EOF

# The card's attestation certificate, read without signet.
piv -a read-certificate -s f9 > "$work/ca.pem" 2> /dev/null || fail "read the F9 certificate"
for id in 01 02; do
	label=$([ $id = 01 ] && echo "PIV Authentication" || echo "Digital Signature")
	sig_p11 --read-object --type cert --label "Attestation of $label" -o "$work/att$id.der" > /dev/null 2>&1 ||
		fail "pkcs11-tool reads the attestation of $id by its label"
	openssl x509 -inform DER -in "$work/att$id.der" -out "$work/att$id.pem" || fail "attestation $id is no certificate"
	check_match "attestation $id verifies against the card's attestation certificate" ": OK$" \
		"$(openssl verify -CAfile "$work/ca.pem" "$work/att$id.pem" 2>&1)"
	# The slot's public key from its own certificate (the id alone finds no attestation);
	# pkcs11-tool 0.23 frees the curve name too early when it exports an EC public key.
	sig_p11 --read-object --type cert --id $id -o "$work/cert$id.der" > "$work/cert.log" 2>&1 ||
		fail "certificate $id: $(cat "$work/cert.log")"
	check "attestation $id holds the slot's public key" \
		"$(openssl x509 -inform DER -in "$work/cert$id.der" -noout -pubkey)" \
		"$(openssl x509 -in "$work/att$id.pem" -noout -pubkey)"
	check_no_match "the slot's own certificate is not the attestation" "Attestation" \
		"$(openssl x509 -inform DER -in "$work/cert$id.der" -noout -subject)"
done
sig_p11 --read-object --type cert --label "PIV Attestation" -o "$work/ca.der" > /dev/null 2>&1 ||
	fail "pkcs11-tool reads the intermediate by its label"
check "the intermediate is the card's attestation certificate" \
	"$(openssl x509 -in "$work/ca.pem" -outform DER | od -An -tx1)" "$(od -An -tx1 < "$work/ca.der")"
sig_p11 -O > "$work/objects" 2>&1 || fail "pkcs11-tool -O: $(cat "$work/objects")"
check_no_match "an ordinary listing shows no attestation" "Attestation" "$(cat "$work/objects")"
