#!/usr/bin/env bash
# Yubico's PKCS#11 module (ykcs11, through pkcs11-tool) against the simulated
# card. ykcs11 only looks at readers whose name starts with "Yubico", and it
# relies on YubiKey specifics: GET VERSION, GET SERIAL, GET METADATA, ATTEST.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card --reader-name "Yubico YubiKey Signet Cardsim"

YKCS11=/usr/lib/x86_64-linux-gnu/libykcs11.so
yk() { pkcs11-tool --module "$YKCS11" "$@"; }
serial=$(sed -n 's/^serial //p' "$SIGNET_CARDSIM_STATE")
printf 'data signed through ykcs11\n' > "$work/data"

check_rc "list slots" 0 yk -L
check_match "token label" "token label +: YubiKey PIV #$serial$" "$out"
check_match "firmware" "firmware version +: 5\.72$" "$out"
check_match "model" "token model +: YubiKey YK5$" "$out"

check_rc "objects" 0 yk -O
check_match "9a certificate" "label: +X\.509 Certificate for PIV Authentication$" "$out"
check_match "attestation certificate" "label: +X\.509 Certificate for PIV Attestation$" "$out"
check_match "9a attestation" "label: +X\.509 Certificate for PIV Attestation 9a$" "$out"
check_match "9c public key RSA" "Public Key Object; RSA 2048 bits" "$out"

# The attestation of 9a chains to the F9 certificate and carries the 9a key.
check_rc "read F9 certificate" 0 yk --read-object --type cert --label "X.509 Certificate for PIV Attestation" -o "$work/f9.der"
check_rc "read 9a attestation" 0 yk --read-object --type cert --label "X.509 Certificate for PIV Attestation 9a" -o "$work/att9a.der"
check_rc "read 9a certificate" 0 yk --read-object --type cert --id 01 -o "$work/c9a.der"
openssl x509 -inform DER -in "$work/f9.der" -out "$work/f9.pem" || fail "F9 cert"
openssl x509 -inform DER -in "$work/att9a.der" -out "$work/att9a.pem" || fail "attestation cert"
check_rc "attestation verifies" 0 openssl verify -partial_chain -CAfile "$work/f9.pem" "$work/att9a.pem"
check "attested key is the 9a key" "$(openssl x509 -inform DER -in "$work/c9a.der" -pubkey -noout)" \
	"$(openssl x509 -in "$work/att9a.pem" -pubkey -noout)"

# Signatures, checked with openssl.
openssl x509 -inform DER -in "$work/c9a.der" -pubkey -noout > "$work/p9a.pem"
check_rc "ECDSA sign (9a)" 0 yk --login --pin 123456 --sign -m ECDSA-SHA256 --id 01 \
	--signature-format openssl -i "$work/data" -o "$work/sig9a"
check_rc "openssl verifies" 0 openssl dgst -sha256 -verify "$work/p9a.pem" -signature "$work/sig9a" "$work/data"
check_rc "read 9c certificate" 0 yk --read-object --type cert --id 02 -o "$work/c9c.der"
openssl x509 -inform DER -in "$work/c9c.der" -pubkey -noout > "$work/p9c.pem"
check_rc "RSA sign (9c, PIN always)" 0 yk --login --pin 123456 --sign -m SHA256-RSA-PKCS --id 02 \
	-i "$work/data" -o "$work/sig9c"
check_rc "openssl verifies RSA" 0 openssl dgst -sha256 -verify "$work/p9c.pem" -signature "$work/sig9c" "$work/data"

# Key generation as SO (the management key), then use of the new key.
check_rc "keypairgen as SO" 0 yk --login --login-type so --so-pin "$SIGNET_TEST_MGMT_KEY" \
	--keypairgen --key-type EC:secp384r1 --id 03
check_match "new private key" "label: +Private key for Key Management" "$out"
check_rc "ECDSA P-384 sign (9d)" 0 yk --login --pin 123456 --sign -m ECDSA-SHA384 --id 03 \
	--signature-format openssl -i "$work/data" -o "$work/sig9d"
# The public key from the card's metadata (tag 04 { 86 61 point }).
point=$(apdu 00A4040005A000000308 00F7009D00 | tail -n 1 | sed -n 's/.*04638661\([0-9A-F]\{194\}\)9000$/\1/p')
check_match "9d point from metadata" '^04[0-9A-F]{192}$' "$point"
printf '3076301006072a8648ce3d020106052b81040022036200%s' "$point" | xxd -r -p > "$work/p9d.der"
openssl pkey -pubin -inform DER -in "$work/p9d.der" -out "$work/p9d.pem" || fail "9d key"
check_rc "openssl verifies P-384" 0 openssl dgst -sha384 -verify "$work/p9d.pem" -signature "$work/sig9d" "$work/data"
check "metadata 9d: P-384, generated" "0101140202020103010104" \
	"$(apdu 00A4040005A000000308 00F7009D00 | tail -n 1 | cut -c1-22)"

check_rc "wrong SO PIN" 1 yk --login --login-type so --so-pin 000000000000000000000000000000000000000000000000 \
	--keypairgen --key-type EC:prime256v1 --id 04
check_match "wrong management key" "CKR_PIN_INCORRECT" "$out"
check_rc "wrong PIN" 1 yk --login --pin 654321 -O
check_match "CKR_PIN_INCORRECT" "C_Login failed: rv = CKR_PIN_INCORRECT" "$out"

# pkcs11-tool's own self test over every key and mechanism ykcs11 offers.
check_rc "pkcs11-tool --test" 0 yk --test --login --pin 123456
check "self test result" "No errors" "$(printf '%s\n' "$out" | tail -n 1)"
