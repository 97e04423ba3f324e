#!/usr/bin/env bash
# A key listed from its slot's certificate (9A, 9C, retired slots) is what the
# certificate says until something needs more: its PIN policy, its origin, or
# its use. Then the card is asked (GET METADATA, once), and when the slot turns
# out to hold another key, or none, the slot's objects are made again from the
# card's word under new handles: the old ones answer *_HANDLE_INVALID, the
# session goes on, and nothing is signed with a key the listing did not show.
# Runs with extended-length APDUs and with a card that refuses them.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
both_variants --personalize empty
card_conf
pin=$SIGNET_TEST_PIN
hex() { od -An -v -tx1 | tr -d ' \n'; }

# ---- 9A: a key and its certificate, then another program makes a new key there (the certificate stays) ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/a.key" -out "$work/a.pem" \
	-days 30 -subj "/CN=first 9A key" 2> /dev/null || fail "openssl"
check_rc "import a 9A key" 0 piv -a import-key -s 9a -i "$work/a.key" --pin-policy=once
check_rc "import its certificate" 0 piv -a import-certificate -s 9a -i "$work/a.pem"
check_rc "a new 9A key, the certificate left" 0 piv -a generate -s 9a -A ECCP256 -o "$work/new.pub"
openssl pkey -pubin -in "$work/new.pub" -outform DER -out "$work/new.der" 2> /dev/null || fail "openssl pkey"

expect "9A: the certificate's key until it is used" init slots open find:pub:01 keep login:user:"$pin" \
	find:priv:01 mark sign:01:ECDSA apdus use getattr sessinfo find:pub:01 pubkey:01:"$work/listed.der" \
	find:priv:01 attr:local verify:01:ECDSA finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
keep: CKR_OK
login: CKR_OK
find: CKR_OK 1
mark: CKR_OK
sign: CKR_KEY_HANDLE_INVALID
apdus: CKR_OK 1
use: CKR_OK
getattr: CKR_OBJECT_HANDLE_INVALID
sessinfo: CKR_OK user
find: CKR_OK 1
pubkey: CKR_OK 91 bytes
find: CKR_OK 1
attr: CKR_OK true
verify: CKR_OK forgery refused
finalize: CKR_OK
EOF
check "the public key listed is the card's" "$(hex < "$work/new.der")" "$(hex < "$work/listed.der")"

# ---- 9C: a certificate without a key (another program wrote only the certificate) ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$work/c.key" -out "$work/c.pem" \
	-days 30 -subj "/CN=a 9C certificate alone" 2> /dev/null || fail "openssl"
check_rc "a 9C certificate, no key" 0 piv -a import-certificate -s 9c -i "$work/c.pem"
rm -rf "$work/cache"
expect "9C: asking for the key's origin shows there is none" init slots open find:cert:02 find:pub:02 keep mark \
	attr:local apdus find:pub:02 find:cert:02 attr:label login:user:"$pin" find:priv:02 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 1
find: CKR_OK 1
keep: CKR_OK
mark: CKR_OK
attr: CKR_OBJECT_HANDLE_INVALID
apdus: CKR_OK 1
find: CKR_OK 0
find: CKR_OK 1
attr: CKR_OK Digital Signature
login: CKR_OK
find: CKR_OK 0
finalize: CKR_OK
EOF
# and a second process, from the cache, knows it without asking
expect "9C: the cache keeps what the card said" mark init slots open find:pub:02 find:cert:02 apdus finalize <<EOF
mark: CKR_OK
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 0
find: CKR_OK 1
apdus: CKR_OK 3
finalize: CKR_OK
EOF
