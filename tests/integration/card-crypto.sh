#!/usr/bin/env bash
# Signing, decryption and key agreement with the card's keys, every result
# checked on the host against the certificate's public key (the C driver) or by
# openssl (pkcs11-tool's output). Runs twice: with extended-length APDUs, and
# with a card that refuses them (command chaining and GET RESPONSE), where an
# RSA-2048 signature costs the fewest chained exchanges.
#
# Keys: 9A P-256 and 9C RSA-2048 (PIN policy "always") from the simulator's
# default personalisation; imported here: 9D RSA-2048 (decryption), 9E P-384,
# and retired slot 82 P-256 (key agreement), with the key history object that
# makes retired slots visible.
#
# CKM_RSA_PKCS and the PSS mechanisms over the card's raw RSA come with the
# core's operation engine: until the card's slot lists them, their lines
# assert CKR_MECHANISM_INVALID; once it does, they must verify.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${SIGNET_TEST_READER:-}" ]; then
	"$top/tests/with-card" -- "$0" extended || exit 1
	exec "$top/tests/with-card" --no-extended -- "$0" short
fi
variant=${1:-extended}
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
need_card
card_conf
pin=$SIGNET_TEST_PIN
echo "variant: $variant"

# ---- keys ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa.key" -out "$work/rsa.pem" -days 30 \
	-subj "/CN=card test decryption" 2> /dev/null || fail "openssl rsa"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$work/p384.key" \
	-out "$work/p384.pem" -days 30 -subj "/CN=card test P-384" 2> /dev/null || fail "openssl p384"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ecdh.key" \
	-out "$work/ecdh.pem" -days 30 -subj "/CN=card test key agreement" 2> /dev/null || fail "openssl p256"
check_rc "import 9D key" 0 piv -a import-key -s 9d -i "$work/rsa.key" --pin-policy=once
check_rc "import 9D certificate" 0 piv -a import-certificate -s 9d -i "$work/rsa.pem"
check_rc "import 9E key" 0 piv -a import-key -s 9e -i "$work/p384.key"
check_rc "import 9E certificate" 0 piv -a import-certificate -s 9e -i "$work/p384.pem"
check_rc "import 82 key" 0 piv -a import-key -s 82 -i "$work/ecdh.key" --pin-policy=once
check_rc "import 82 certificate" 0 piv -a import-certificate -s 82 -i "$work/ecdh.pem"
printf '\xc1\x01\x01\xc2\x01\x00\xfe\x00' > "$work/history"
check_rc "key history" 0 piv -a write-object --id 0x5fc10c -f binary -i "$work/history"

# ---- the objects ----
expect "objects" init slots open find:cert find:pub find:priv login:user:"$pin" find:priv \
	find:priv:03 attr:label attr:decrypt attr:sign attr:local find:priv:04 attr:sign attr:always_auth \
	find:priv:05 attr:label attr:derive find:priv:02 attr:always_auth attr:never_extractable \
	find:priv:01 attr:local find:cert:05 attr:label finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 5
find: CKR_OK 5
find: CKR_OK 0
login: CKR_OK
find: CKR_OK 5
find: CKR_OK 1
attr: CKR_OK Key Management
attr: CKR_OK true
attr: CKR_OK false
attr: CKR_OK false
find: CKR_OK 1
attr: CKR_OK true
attr: CKR_OK false
find: CKR_OK 1
attr: CKR_OK Retired Key Management 1
attr: CKR_OK true
find: CKR_OK 1
attr: CKR_OK true
attr: CKR_OK true
find: CKR_OK 1
attr: CKR_OK true
find: CKR_OK 1
attr: CKR_OK Retired Key Management 1
finalize: CKR_OK
EOF

# ---- what the card offers: raw operations on the card, the rest composed ----
drive init slots mechs finalize
mechs=$(printf '%s\n' "$out" | sed -n 's/^mechs: CKR_OK //p')
check_match "card mechanisms" "^RSA-X-509 ECDSA ECDH1-DERIVE( |$)" "$mechs"
check_match "composed ECDSA" "ECDSA-SHA1 ECDSA-SHA224 ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512" "$mechs"
sig_p11 -M > "$work/mechs" 2>&1 || fail "pkcs11-tool -M"
# The card decrypts and signs; the host adds encryption and verification with the public key.
check_match "raw RSA on the card" "RSA-X-509, keySize=\\{1024,4096\\}, hw, encrypt, decrypt, sign, verify" "$(cat "$work/mechs")"
check_match "RSA-PKCS composed on raw RSA" "RSA-PKCS, keySize=\\{1024,4096\\}, hw, encrypt, decrypt, sign, verify" "$(cat "$work/mechs")"
check_match "ECDSA on the card" "ECDSA, keySize=\{256,384\}, hw, sign" "$(cat "$work/mechs")"
check_match "ECDH on the card" "ECDH1-DERIVE, keySize=\{256,384\}, hw, derive" "$(cat "$work/mechs")"

# A mechanism the operation engine composes on raw RSA: it must be listed, and verify.
engine() { # mechanism -> the result line it must give
	case " $mechs " in
	*" $1 "*) echo "$2" ;;
	*) echo "${2%%:*}: not listed by the slot" ;;
	esac
}

# ---- signatures ----
steps=(init slots open login:user:"$pin" ctxpin:"$pin")
want=("init: CKR_OK" "slots: CKR_OK 1" "open: CKR_OK" "login: CKR_OK" "ctxpin: CKR_OK")
for m in ECDSA ECDSA-SHA1 ECDSA-SHA224 ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512; do
	steps+=(sign:01:$m sign:04:$m)
	want+=("sign: CKR_OK verified" "sign: CKR_OK verified")
done
steps+=(multi:01:ECDSA-SHA256 signlen:04:ECDSA signlen:01:ECDSA-SHA384 sign:02:RSA-X-509 signlen:02:RSA-X-509
	sign:01:RSA-X-509 sign:02:ECDSA sign:03:ECDSA)
want+=("multi: CKR_OK verified" "signlen: CKR_OK verified" "signlen: CKR_OK verified" "sign: CKR_OK verified"
	"signlen: CKR_OK verified" "sign: CKR_KEY_TYPE_INCONSISTENT" "sign: CKR_KEY_TYPE_INCONSISTENT"
	"sign: CKR_KEY_FUNCTION_NOT_PERMITTED")
for m in RSA-PKCS SHA1-RSA-PKCS SHA256-RSA-PKCS SHA512-RSA-PKCS RSA-PKCS-PSS SHA256-RSA-PKCS-PSS \
	SHA384-RSA-PKCS-PSS; do
	steps+=(sign:02:$m)
	want+=("$(engine "$m" "sign: CKR_OK verified")")
done
steps+=(finalize)
want+=("finalize: CKR_OK")
expect "signatures" "${steps[@]}" < <(printf '%s\n' "${want[@]}")

# ---- decryption and key agreement ----
expect "decryption and key agreement" init slots open login:user:"$pin" decrypt:03:RSA-X-509 \
	decrypt:03:RSA-PKCS-OAEP decrypt:02:RSA-X-509 derive:05 attr:value_len derive:01 derive:04 decrypt:03:RSA-PKCS \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
decrypt: CKR_OK matches
decrypt: CKR_OK matches
decrypt: CKR_KEY_FUNCTION_NOT_PERMITTED
derive: CKR_OK matches
attr: CKR_OK 32
derive: CKR_OK matches
derive: CKR_KEY_FUNCTION_NOT_PERMITTED
$(engine RSA-PKCS "decrypt: CKR_OK matches")
finalize: CKR_OK
EOF

# ---- an RSA-2048 signature: one APDU with extended length, else the fewest chained exchanges ----
drive init slots open login:user:"$pin" signinit:02:RSA-X-509 mark login:ctx:"$pin" signonly apdus finalize
check_match "PIN-always RSA signature" "signonly: CKR_OK verified" "$out"
if [ "$variant" = extended ]; then
	check "VERIFY and one GENERAL AUTHENTICATE" "apdus: CKR_OK 2" "$(printf '%s\n' "$out" | grep '^apdus')"
else
	# Two command fragments (256 data bytes and the TLV around them) and one GET RESPONSE.
	check "VERIFY and a chained GENERAL AUTHENTICATE" "apdus: CKR_OK 4" "$(printf '%s\n' "$out" | grep '^apdus')"
fi

# ---- pkcs11-tool and openssl ----
printf 'signed by a card' > "$work/data"
openssl dgst -sha256 -binary "$work/data" > "$work/data.sha256"
openssl x509 -in "$work/p384.pem" -pubkey -noout > "$work/p384.pub"
openssl x509 -in "$work/rsa.pem" -pubkey -noout > "$work/rsa.pub"
check_rc "pkcs11-tool ECDSA" 0 sig_p11 --login --pin "$pin" --sign --id 04 -m ECDSA --signature-format openssl \
	-i "$work/data.sha256" -o "$work/sig"
check_rc "openssl verifies it" 0 openssl dgst -sha256 -verify "$work/p384.pub" -signature "$work/sig" "$work/data"
check_rc "pkcs11-tool ECDSA-SHA256" 0 sig_p11 --login --pin "$pin" --sign --id 04 -m ECDSA-SHA256 \
	--signature-format openssl -i "$work/data" -o "$work/sig2"
check_rc "openssl verifies that" 0 openssl dgst -sha256 -verify "$work/p384.pub" -signature "$work/sig2" "$work/data"
openssl pkeyutl -encrypt -pubin -inkey "$work/rsa.pub" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
	-pkeyopt rsa_mgf1_md:sha256 -in "$work/data" -out "$work/ct" || fail "openssl encrypt"
check_rc "pkcs11-tool OAEP decryption" 0 sig_p11 --login --pin "$pin" --decrypt --id 03 -m RSA-PKCS-OAEP \
	--hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$work/ct" -o "$work/pt"
check "the plaintext" "signed by a card" "$(cat "$work/pt")"
