#!/usr/bin/env bash
# The card cache is never trusted with a key: a first process lists the card
# (writing the cache), another program (yubico-piv-tool) replaces the 9A key and
# certificate, and a second process, listing from the cache, finds out at
# C_SignInit (one APDU) that the key changed: the card is a new token, and once
# it has found the objects again its signature verifies against the new
# certificate. A damaged cache file is ignored and written again.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card
card_conf
pin=$SIGNET_TEST_PIN
cache=$work/cache/card-$(card_serial).cache

drive init slots open find:cert:01 attr:value finalize
old_cert=$(printf '%s\n' "$out" | sed -n 's/^attr: CKR_OK //p')
[ -s "$cache" ] || fail "no cache after the first listing"

# Another program replaces the 9A key and certificate; the new key wants the PIN for every use.
replace_9a() { # CN PIN-POLICY
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/new.key" \
		-out "$work/new.pem" -days 30 -subj "/CN=$1" 2> /dev/null || fail "openssl"
	check_rc "import a new 9A key ($1)" 0 piv -a import-key -s 9a -i "$work/new.key" --pin-policy="$2"
	check_rc "import its certificate ($1)" 0 piv -a import-certificate -s 9a -i "$work/new.pem"
	new_cert=$(openssl x509 -in "$work/new.pem" -outform DER | od -An -v -tx1 | tr -d ' \n' | cut -c1-200)
}
replace_9a "the replacement" always

# The signature is the first thing that needs the key: C_SignInit checks it (one APDU).
expect "stale listing, checked before use" init slots open mark find:cert:01 attr:value apdus \
	login:user:"$pin" find:priv:01 mark sign:01:ECDSA apdus sessinfo \
	open login:user:"$pin" find:cert:01 attr:value find:priv:01 attr:always_auth ctxpin:"$pin" sign:01:ECDSA \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
mark: CKR_OK
find: CKR_OK 1
attr: CKR_OK $old_cert
apdus: CKR_OK 0
login: CKR_OK
find: CKR_OK 1
mark: CKR_OK
sign: CKR_KEY_HANDLE_INVALID
apdus: CKR_OK 1
sessinfo: CKR_SESSION_HANDLE_INVALID
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
attr: CKR_OK $new_cert
find: CKR_OK 1
attr: CKR_OK true
ctxpin: CKR_OK
sign: CKR_OK verified
finalize: CKR_OK
EOF
check_rc "the new listing is cached" 0 grep -q "the replacement" "$cache"

# Replaced again, now with PIN policy "once", after a listing that never needed
# more of the 9A key than its certificate says (so the cache has no PIN policy
# for it): asking for CKA_ALWAYS_AUTHENTICATE asks the card, which shows the
# change before any use.
rm -f "$cache"
drive init slots open find:cert:01 attr:value finalize
replace_9a "the second replacement" once
expect "stale listing, seen when its PIN policy is asked" init slots open login:user:"$pin" find:priv:01 \
	attr:always_auth sessinfo open login:user:"$pin" find:cert:01 attr:value find:priv:01 attr:always_auth \
	sign:01:ECDSA finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
attr: CKR_OBJECT_HANDLE_INVALID
sessinfo: CKR_SESSION_HANDLE_INVALID
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
attr: CKR_OK $new_cert
find: CKR_OK 1
attr: CKR_OK false
sign: CKR_OK verified
finalize: CKR_OK
EOF

# ---- a damaged cache file: ignored, and written again ----
printf 'not a cache' > "$cache"
drive mark init slots open find:cert:01 attr:value finalize apdus
check_match "read from the card again" "attr: CKR_OK $new_cert" "$out"
# card-budget.sh counts them: 9
budget "a cold listing" 9 "$(printf '%s\n' "$out" | grep '^apdus')"
drive mark init slots open find:cert:01 attr:value finalize apdus
check_match "and from the cache again" "attr: CKR_OK $new_cert" "$out"
budget "a warm listing" 3 "$(printf '%s\n' "$out" | grep '^apdus')"
