#!/usr/bin/env bash
# C_GenerateKeyPair on the card, on a card with no keys: through pkcs11-tool
# and the C driver, every key type the card has; each new key signs (or
# decrypts) at once, checked by openssl or on the host against its public-key
# object; a CSR through OpenSSL's libp11 engine with a new key. A key is never
# generated over another unless the caller asks (CKA_SIGNET_REPLACE); the PIN
# policy comes from CKA_SIGNET_PIN_POLICY, else the slot's default; writes
# need a read-write session and the user logged in. Runs twice: with
# extended-length APDUs, and with a card that refuses them.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
both_variants --personalize empty
card_conf
pin=$SIGNET_TEST_PIN


# ---- who may write ----
expect "writes need a login and a read-write session" init slots open gen:p256:01 open-ro login:user:"$pin" \
	gen:p256:01 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
gen: CKR_USER_NOT_LOGGED_IN
open-ro: CKR_OK
login: CKR_OK
gen: CKR_SESSION_READ_ONLY
finalize: CKR_OK
EOF
check "nothing generated" "6A88" "$(card_metadata 9A)"

# ---- P-256 in 9A, RSA-2048 in 9E; each signs at once through pkcs11-tool, openssl verifies ----
# (pkcs11-tool 0.23 generates EC keys too, but reads freed memory showing them: the C driver does it.)
printf 'a key made on the card' > "$work/data"
openssl dgst -sha256 -binary "$work/data" > "$work/data.sha256"
P=(sig_p11 --login --pin "$pin")
pubkey() { drive init slots open "pubkey:$1:$2" finalize; check_match "public key $1" "pubkey: CKR_OK" "$out"; }
expect "the C driver generates P-256" init slots open login:user:"$pin" gen:p256:01 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
gen: CKR_OK 01
finalize: CKR_OK
EOF
check_rc "pkcs11-tool signs with it" 0 "${P[@]}" --sign --id 01 -m ECDSA --signature-format openssl \
	-i "$work/data.sha256" -o "$work/p256.sig"
pubkey 01 "$work/p256.pub"
check_rc "openssl verifies the P-256 signature" 0 openssl dgst -sha256 -verify "$work/p256.pub" -keyform DER \
	-signature "$work/p256.sig" "$work/data"
check_rc "pkcs11-tool generates RSA-2048" 0 "${P[@]}" --keypairgen --key-type rsa:2048 --id 04 --label rsa
check_rc "pkcs11-tool signs with it" 0 "${P[@]}" --sign --id 04 -m SHA256-RSA-PKCS -i "$work/data" \
	-o "$work/rsa.sig"
check_rc "its public key" 0 sig_p11 --read-object --type pubkey --id 04 -o "$work/rsa.pub"
check_rc "openssl verifies the RSA signature" 0 openssl dgst -sha256 -verify "$work/rsa.pub" -keyform DER \
	-signature "$work/rsa.sig" "$work/data"
check_match "the card says 9E holds a generated RSA-2048 key" "^010107.*030101" "$(card_metadata 9E)"

# ---- never over a key by accident ----
expect "a key is not replaced unless asked" init slots open login:user:"$pin" gen:p384:01 gen:p384:04 finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
gen: CKR_ACTION_PROHIBITED
gen: CKR_ACTION_PROHIBITED
finalize: CKR_OK
EOF
check_match "the refusal names the slot" "slot 9A of the card in .* holds a key .*not replaced.*CKA_SIGNET_REPLACE" \
	"$(cat "$work/drive.err")"
pubkey 01 "$work/p256.again"
check "the same public key" "$(od -An -tx1 "$work/p256.pub")" "$(od -An -tx1 "$work/p256.again")"

# ---- a key replaced when asked: a handle to the old key names nothing, never the new key ----
expect "old handles after a replace" init slots open login:user:"$pin" find:priv:01 keep find:pub:01 \
	gen:p256:01:replace use attr:label find:priv:01 attr:label finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
find: CKR_OK 1
keep: CKR_OK
find: CKR_OK 1
gen: CKR_OK 01
use: CKR_OK
attr: CKR_OBJECT_HANDLE_INVALID
find: CKR_OK 1
attr: CKR_OK PIV Authentication
finalize: CKR_OK
EOF
pubkey 01 "$work/p256.pub"

# ---- the C driver: every type; the first free slot without CKA_ID; replace when asked ----
steps=(init slots open login:user:"$pin" ctxpin:"$pin"
	gen:p384:- sign:02:ECDSA-SHA384 attr:always_auth
	gen:rsa3072:04:replace sign:04:SHA256-RSA-PKCS sign:04:SHA384-RSA-PKCS-PSS attr:local
	gen:p256:01:replace,pin=3 attr:always_auth sign:01:ECDSA-SHA256
	gen:rsa2048:- decrypt:03:RSA-PKCS-OAEP
	gen:p256:- derive:05 finalize)
expect "generate and use at once" "${steps[@]}" <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
ctxpin: CKR_OK
gen: CKR_OK 02
sign: CKR_OK verified
attr: CKR_OK true
gen: CKR_OK 04
sign: CKR_OK verified
sign: CKR_OK verified
attr: CKR_OK true
gen: CKR_OK 01
attr: CKR_OK true
sign: CKR_OK verified
gen: CKR_OK 03
decrypt: CKR_OK matches
gen: CKR_OK 05
derive: CKR_OK matches
finalize: CKR_OK
EOF
check_match "9A with PIN policy always" "^010111020203" "$(card_metadata 9A)"
check_match "82 counted in the key history" "^C10101" "$(piv_apdu 00CB3FFF055C035FC10C00 | tail -n 1 | cut -c5-)"

# ---- another process finds them, from the card and from the cache ----
rm -rf "$work/cache"
for run in cold warm; do
	expect "listed by another process ($run)" init slots open find:pub login:user:"$pin" find:priv find:priv:05 \
		attr:derive finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 5
login: CKR_OK
find: CKR_OK 5
find: CKR_OK 1
attr: CKR_OK true
finalize: CKR_OK
EOF
done

# ---- Ed25519 and X25519: generated on the card, their objects at once ----
drive init slots mechs finalize
case " $out " in *" EDDSA "*) ;; *) fail "a YubiKey 5.7 lists CKM_EDDSA: $out" ;; esac
drive init slots open login:user:"$pin" gen:ed25519:06 gen:x25519:07 sign:06:EDDSA finalize
check "Ed25519 and X25519 objects; the new Ed25519 key signs (checked against its public key)" \
	"gen: CKR_OK 06 gen: CKR_OK 07 sign: CKR_OK verified" "$(printf '%s\n' "$out" | grep '^gen\|^sign' | xargs)"
# the new X25519 key's secret is the one openssl derives on the peer's side
openssl genpkey -algorithm X25519 -out "$work/peer.key" 2> /dev/null || fail "X25519 peer key"
drive init slots open find:pub:07 attr:ec_point finalize
point=$(printf '%s\n' "$out" | sed -n 's/^attr: CKR_OK 0420//p')
[ ${#point} = 64 ] || fail "the new X25519 key's CKA_EC_POINT: $out"
printf '302a300506032b656e032100%s' "$point" | xxd -r -p > "$work/x.der"
openssl pkey -pubin -inform DER -in "$work/x.der" -out "$work/x.pub" || fail "the new X25519 public key"
secret=$(openssl pkeyutl -derive -inkey "$work/peer.key" -peerkey "$work/x.pub" | od -An -v -tx1 | tr -d ' \n')
[ ${#secret} = 64 ] || fail "openssl derive"
drive init slots open login:user:"$pin" xderive:07:"$(raw_public "$work/peer.key")" finalize
check "the new X25519 key derives openssl's secret" "xderive: CKR_OK $secret" "$(printf '%s\n' "$out" | grep '^xderive')"
# a peer key of small order (u = 0, u = 1) gives a secret everyone knows: refused, the session goes on
drive init slots open login:user:"$pin" xderive:07:"$(printf '%064d' 0)" xderive:07:"01$(printf '%062d' 0)" \
	xderive:07:"$(raw_public "$work/peer.key")" finalize
check "small-order X25519 peer keys refused" \
	"xderive: CKR_MECHANISM_PARAM_INVALID xderive: CKR_MECHANISM_PARAM_INVALID xderive: CKR_OK $secret" \
	"$(printf '%s\n' "$out" | grep '^xderive' | xargs)"
check_match "the card holds the Ed25519 key" "^0101E0.*030101" "$(card_metadata 83)"
check_match "the card holds the X25519 key" "^0101E1.*030101" "$(card_metadata 84)"
expect "a slot holding an Ed25519 key is not taken" init slots open login:user:"$pin" gen:p256:06 \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
gen: CKR_ACTION_PROHIBITED
finalize: CKR_OK
EOF

# ---- a CSR with a new key, then OpenSSL checks it ----
# signet-tool makes it through PKCS#11 (card-engine does it through OpenSSL's libp11 engine;
# GnuTLS's certtool can too, but hangs at exit under the sanitizers, in p11-kit's destructor).
pem_of() { openssl pkey -pubin -inform DER -in "$1" -outform PEM; }
check_rc "the new 9E key" 0 sig_p11 --read-object --type pubkey --id 04 -o "$work/rsa3072.pub"
printf '%s' "$pin" > "$work/pin"
csr() { "$SIGNET_BUILD/signet-tool" csr --module "$module" --pin-file "$work/pin" "$@"; }
check_rc "CSR signed by the card's new key" 0 csr --id 04 --subject "/CN=card keygen test" --out "$work/req.csr"
check_rc "openssl verifies the CSR" 0 openssl req -in "$work/req.csr" -noout -verify
csr_key=$(openssl req -in "$work/req.csr" -noout -pubkey | openssl pkey -pubin -outform PEM)
check "the CSR carries the card's new key" "$(pem_of "$work/rsa3072.pub")" "$csr_key"
check_rc "not the key it replaced" 1 test "$(pem_of "$work/rsa.pub")" = "$csr_key"
