#!/usr/bin/env bash
# OpenSSL's libp11 engine drives signet on a card with no keys: a P-256 and an
# RSA-2048 key made on the card sign CSRs through `openssl req -engine pkcs11`
# (which makes the engine OpenSSL's default for RSA and EC inside the process
# signet runs in, so signet's own key handling must not go through it); each
# CSR verifies and carries the card's key, a test CA certifies it, the
# certificate goes onto the card and is found with its key by CKA_ID. Runs with
# extended-length APDUs and with a card that refuses them.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
both_variants --personalize empty
card_conf
pin=$SIGNET_TEST_PIN

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
	-out "$work/ca.pem" -days 30 -subj "/CN=signet engine test CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null || fail "test CA"

expect "keys made on the card" init slots open login:user:"$pin" gen:p256:01 gen:rsa2048:04 \
	pubkey:01:"$work/01.pub" pubkey:04:"$work/04.pub" finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
gen: CKR_OK 01
gen: CKR_OK 04
pubkey: CKR_OK 91 bytes
pubkey: CKR_OK 294 bytes
finalize: CKR_OK
EOF

engine_csr() { # id subject out
	PKCS11_MODULE_PATH=$module run_client timeout 60 openssl req -new -engine pkcs11 -keyform engine \
		-key "pkcs11:id=%$1;type=private?pin-value=$pin" -subj "$2" -out "$3"
}

for id in 01 04; do
	check_rc "openssl req -engine pkcs11 signs a CSR with key $id" 0 engine_csr "$id" "/CN=engine $id" \
		"$work/$id.csr"
	check_no_match "signet logs nothing doing it ($id)" "signet\[" "$out"
	check_rc "openssl verifies the CSR of $id" 0 openssl req -in "$work/$id.csr" -noout -verify
	check "the CSR of $id carries the card's key" \
		"$(openssl pkey -pubin -inform DER -in "$work/$id.pub")" \
		"$(openssl req -in "$work/$id.csr" -noout -pubkey | openssl pkey -pubin)"
	openssl x509 -req -in "$work/$id.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 30 \
		-out "$work/$id.pem" 2> /dev/null || fail "the CA issues $id"
done

rm -rf "$work/cache"
expect "the certificates go onto the card and are found with their keys" init slots open login:user:"$pin" \
	writecert:"$work/01.pem" writecert:"$work/04.pem" finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
writecert: CKR_OK 01
writecert: CKR_OK 04
finalize: CKR_OK
EOF
expect "found by CKA_ID with their keys" init slots open find:cert:01 attr:label find:cert:04 attr:label \
	login:user:"$pin" find:priv:01 sign:01:ECDSA-SHA256 find:priv:04 sign:04:SHA256-RSA-PKCS finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
attr: CKR_OK PIV Authentication
find: CKR_OK 1
attr: CKR_OK Card Authentication
login: CKR_OK
find: CKR_OK 1
sign: CKR_OK verified
find: CKR_OK 1
sign: CKR_OK verified
finalize: CKR_OK
EOF
check_rc "the certificate on the card is the one the CA issued" 0 sig_p11 --read-object --type cert --id 04 \
	-o "$work/04.read"
check "same certificate" "$(openssl x509 -in "$work/04.pem" -outform DER | od -An -tx1)" \
	"$(od -An -tx1 "$work/04.read")"
