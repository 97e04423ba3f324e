#!/usr/bin/env bash
# The YubiKey 5.7 algorithms on the card token: Ed25519 (CKM_EDDSA), X25519
# (CKM_ECDH1_DERIVE), RSA-3072 and RSA-4096 (every RSA mechanism the
# operation engine composes on the card's raw RSA). Keys are imported with
# the card's own IMPORT KEY (yubico-piv-tool 2.2 knows none of these):
#   9A RSA-4096 + certificate (signs and decrypts)
#   9C Ed25519 + certificate, PIN policy "once"
#   9D RSA-3072 + certificate (decrypts), 9E the same key (signs)
#   82 X25519, no certificate (its public key comes from GET METADATA)
# Every signature is verified on the host (the C driver) and with openssl
# against the public key read from the token; the X25519 secret is compared
# with openssl pkeyutl -derive on the peer's side. Runs with extended-length
# APDUs and with a card that refuses them (chaining and GET RESPONSE).
# The keys are made once for both runs: RSA-4096 generation is slow.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${SIGNET_TEST_READER:-}" ]; then
	SIGNET_ALG_KEYS=$(mktemp -d /tmp/signet-algs.XXXXXX) || exit 1
	export SIGNET_ALG_KEYS
	trap 'rm -rf "$SIGNET_ALG_KEYS"' EXIT
	k=$SIGNET_ALG_KEYS
	{
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$k/rsa4096.key" &&
			openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$k/rsa3072.key" &&
			openssl genpkey -algorithm ED25519 -out "$k/ed.key" &&
			openssl genpkey -algorithm X25519 -out "$k/x.key" &&
			openssl genpkey -algorithm X25519 -out "$k/peer.key" &&
			for n in rsa4096 rsa3072 ed; do
				openssl req -x509 -key "$k/$n.key" -out "$k/$n.pem" -days 30 -subj "/CN=card algs $n" || exit 1
			done
	} 2> /dev/null || { echo "FAIL: test keys" >&2; exit 1; }
	"$top/tests/with-card" -- "$0" extended || exit 1
	"$top/tests/with-card" --no-extended -- "$0" short
	exit
fi
variant=${1:-extended}
keys=$SIGNET_ALG_KEYS
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-import.sh"
. "$top/tests/lib/card-p11.sh"
need_card
card_conf
pin=$SIGNET_TEST_PIN
echo "variant: $variant"

# ---- the keys on the card ----
open_card
send $sel
mgmt_auth
import_rsa "$keys/rsa4096.key" 4096 9A
import_25519 "$keys/ed.key" E0 9C 02
import_rsa "$keys/rsa3072.key" 3072 9D
import_rsa "$keys/rsa3072.key" 3072 9E
import_25519 "$keys/x.key" E1 82
close_card
check_rc "9A certificate" 0 piv -a import-certificate -s 9a -i "$keys/rsa4096.pem"
check_rc "9C certificate" 0 piv -a import-certificate -s 9c -i "$keys/ed.pem"
check_rc "9D certificate" 0 piv -a import-certificate -s 9d -i "$keys/rsa3072.pem"
check_rc "9E certificate" 0 piv -a import-certificate -s 9e -i "$keys/rsa3072.pem"
printf '\xc1\x01\x01\xc2\x01\x00\xfe\x00' > "$work/history"
check_rc "key history" 0 piv -a write-object --id 0x5fc10c -f binary -i "$work/history"

ed_point=0420$(raw_public "$keys/ed.key")
x_point=0420$(raw_public "$keys/x.key")
rsa_sign="RSA-X-509 RSA-PKCS SHA1-RSA-PKCS SHA224-RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS"
rsa_sign="$rsa_sign RSA-PKCS-PSS SHA1-RSA-PKCS-PSS SHA224-RSA-PKCS-PSS SHA256-RSA-PKCS-PSS SHA384-RSA-PKCS-PSS"
rsa_sign="$rsa_sign SHA512-RSA-PKCS-PSS"
composed="ECDSA-SHA1 ECDSA-SHA224 ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512 ${rsa_sign#RSA-X-509 } RSA-PKCS-OAEP"

# ---- the objects: 3.0 key types, CKA_EC_PARAMS as the curve's OID, CKA_EC_POINT as an OCTET STRING ----
expect "objects" init slots open find:cert find:pub find:pub:02 attr:key_type attr:ec_params attr:ec_point \
	attr:verify find:pub:05 attr:key_type attr:ec_params attr:ec_point find:cert:05 find:pub:01 attr:modulus_bits \
	find:pub:04 attr:modulus_bits login:user:"$pin" find:priv find:priv:02 attr:key_type attr:sign attr:derive \
	attr:always_auth attr:ec_params attr:allowed find:priv:05 attr:key_type attr:derive attr:sign attr:decrypt \
	attr:allowed find:priv:01 attr:sign attr:decrypt attr:allowed find:priv:03 attr:sign attr:decrypt mechs \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
find: CKR_OK 4
find: CKR_OK 5
find: CKR_OK 1
attr: CKR_OK 64
attr: CKR_OK 06032b6570
attr: CKR_OK $ed_point
attr: CKR_OK true
find: CKR_OK 1
attr: CKR_OK 65
attr: CKR_OK 06032b656e
attr: CKR_OK $x_point
find: CKR_OK 0
find: CKR_OK 1
attr: CKR_OK 4096
find: CKR_OK 1
attr: CKR_OK 3072
login: CKR_OK
find: CKR_OK 5
find: CKR_OK 1
attr: CKR_OK 64
attr: CKR_OK true
attr: CKR_OK false
attr: CKR_OK false
attr: CKR_OK 06032b6570
attr: CKR_OK EDDSA
find: CKR_OK 1
attr: CKR_OK 65
attr: CKR_OK true
attr: CKR_OK false
attr: CKR_OK false
attr: CKR_OK ECDH1-DERIVE
find: CKR_OK 1
attr: CKR_OK true
attr: CKR_OK true
attr: CKR_OK $rsa_sign RSA-PKCS-OAEP
find: CKR_OK 1
attr: CKR_OK false
attr: CKR_OK true
mechs: CKR_OK RSA-X-509 ECDSA ECDH1-DERIVE EDDSA EC-EDWARDS-KEY-PAIR-GEN EC-MONTGOMERY-KEY-PAIR-GEN $composed
finalize: CKR_OK
EOF

# ---- Ed25519: the card signs the whole message (parts are kept and sent at C_SignFinal); only plain Ed25519 ----
expect "Ed25519" init slots open login:user:"$pin" sign:02:EDDSA signlen:02:EDDSA verify:02:EDDSA \
	sign:02:EDDSA-PH multi:02:EDDSA sign:02:ECDSA sign:05:EDDSA sign:01:EDDSA mark sign:02:EDDSA apdus \
	finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
sign: CKR_OK verified
signlen: CKR_OK verified
verify: CKR_OK forgery refused
sign: CKR_MECHANISM_PARAM_INVALID
multi: CKR_OK verified
sign: CKR_KEY_TYPE_INCONSISTENT
sign: CKR_KEY_FUNCTION_NOT_PERMITTED
sign: CKR_KEY_TYPE_INCONSISTENT
mark: CKR_OK
sign: CKR_OK verified
apdus: CKR_OK 1
finalize: CKR_OK
EOF

# ---- RSA-3072 and RSA-4096: every mechanism composed on the card's raw RSA ----
steps=(init slots open login:user:"$pin")
want=("init: CKR_OK" "slots: CKR_OK 1" "open: CKR_OK" "login: CKR_OK")
for id in 01 04; do
	for m in $rsa_sign; do
		steps+=(sign:$id:$m)
		want+=("sign: CKR_OK verified")
	done
	steps+=(signlen:$id:RSA-PKCS verify:$id:SHA256-RSA-PKCS verify:$id:SHA384-RSA-PKCS-PSS)
	want+=("signlen: CKR_OK verified" "verify: CKR_OK forgery refused" "verify: CKR_OK forgery refused")
done
for id in 01 03; do
	for m in RSA-X-509 RSA-PKCS RSA-PKCS-OAEP; do
		steps+=(decrypt:$id:$m)
		want+=("decrypt: CKR_OK matches")
	done
done
steps+=(decrypt:04:RSA-PKCS sign:03:SHA256-RSA-PKCS mark sign:01:SHA256-RSA-PKCS apdus finalize)
want+=("decrypt: CKR_KEY_FUNCTION_NOT_PERMITTED" "sign: CKR_KEY_FUNCTION_NOT_PERMITTED" "mark: CKR_OK"
	"sign: CKR_OK verified")
if [ "$variant" = extended ]; then
	want+=("apdus: CKR_OK 1")
else
	# 512 bytes and the TLV around them in three command pieces; the 520-byte answer in 256-byte parts
	# (the last piece brings the first, two GET RESPONSE the rest).
	want+=("apdus: CKR_OK 5")
fi
want+=("finalize: CKR_OK")
expect "RSA-3072 and RSA-4096" "${steps[@]}" < <(printf '%s\n' "${want[@]}")

# ---- X25519: the secret is the one openssl derives on the peer's side ----
# pkcs11-tool 0.23 cannot read an X25519 public key: its CKA_EC_POINT, read by the C driver, makes it.
peer=$(raw_public "$keys/peer.key")
drive init slots open find:pub:05 attr:ec_point finalize
point=$(printf '%s\n' "$out" | sed -n 's/^attr: CKR_OK 0420//p')
printf '302a300506032b656e032100%s' "$point" | unhex > "$work/x.der"
openssl pkey -pubin -inform DER -in "$work/x.der" -out "$work/x.pub" || fail "the token's X25519 key"
check "X25519 public key read from the token" "$(openssl pkey -in "$keys/x.key" -pubout)" "$(cat "$work/x.pub")"
secret=$(openssl pkeyutl -derive -inkey "$keys/peer.key" -peerkey "$work/x.pub" | od -An -v -tx1 | tr -d ' \n')
[ ${#secret} = 64 ] || fail "openssl derive"
expect "X25519" init slots open login:user:"$pin" xderive:05:"$peer" attr:value_len xderive:05:0420"$peer" \
	xderive:05:04"$peer$peer" xderive:02:"$peer" finalize <<EOF
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
xderive: CKR_OK $secret
attr: CKR_OK 32
xderive: CKR_OK $secret
xderive: CKR_MECHANISM_PARAM_INVALID
xderive: CKR_KEY_FUNCTION_NOT_PERMITTED
finalize: CKR_OK
EOF

# ---- pkcs11-tool and openssl, with the public keys read from the token ----
printf 'signed on a card with Ed25519' > "$work/data"
# (pkcs11-tool 0.23 writes an Ed25519 public key in PEM, an RSA one in DER)
sig_p11 --read-object --type pubkey --id 02 -o "$work/ed.pem" > /dev/null 2>&1 || fail "Ed25519 public key from the token"
openssl pkey -pubin -in "$work/ed.pem" -out "$work/ed.pub" || fail "the token's Ed25519 key"
check "Ed25519 public key read from the token" "$(openssl pkey -in "$keys/ed.key" -pubout)" "$(cat "$work/ed.pub")"
check_rc "pkcs11-tool EDDSA" 0 sig_p11 --login --pin "$pin" --sign --id 02 -m EDDSA -i "$work/data" -o "$work/ed.sig"
check_rc "openssl verifies the Ed25519 signature" 0 openssl pkeyutl -verify -pubin -inkey "$work/ed.pub" -rawin \
	-in "$work/data" -sigfile "$work/ed.sig"
# A document of 3 KB goes to the card in chained parts; one byte more is refused before anything is sent.
head -c 3072 /dev/urandom > "$work/doc3k"
check_rc "pkcs11-tool EDDSA over 3072 bytes" 0 sig_p11 --login --pin "$pin" --sign --id 02 -m EDDSA \
	-i "$work/doc3k" -o "$work/ed3k.sig"
check_rc "openssl verifies it" 0 openssl pkeyutl -verify -pubin -inkey "$work/ed.pub" -rawin -in "$work/doc3k" \
	-sigfile "$work/ed3k.sig"
head -c 3073 /dev/urandom > "$work/doc3k1"
check_rc "EDDSA over 3073 bytes is refused" 1 sig_p11 --login --pin "$pin" --sign --id 02 -m EDDSA \
	-i "$work/doc3k1" -o "$work/ed3k1.sig"
check_match "with a log line" "a message of more than 3072 bytes, the card signs 1 to 3072" "$out"
for id in 01 04; do
	sig_p11 --read-object --type pubkey --id $id -o "$work/rsa$id.der" > /dev/null 2>&1 || fail "RSA key $id"
	openssl pkey -pubin -inform DER -in "$work/rsa$id.der" -out "$work/rsa$id.pub" || fail "the token's RSA key $id"
	check_rc "pkcs11-tool SHA384-RSA-PKCS ($id)" 0 sig_p11 --login --pin "$pin" --sign --id $id -m SHA384-RSA-PKCS \
		-i "$work/data" -o "$work/rsa$id.sig"
	check_rc "openssl verifies it ($id)" 0 openssl dgst -sha384 -verify "$work/rsa$id.pub" \
		-signature "$work/rsa$id.sig" "$work/data"
	check_rc "pkcs11-tool SHA256-RSA-PKCS-PSS ($id)" 0 sig_p11 --login --pin "$pin" --sign --id $id \
		-m SHA256-RSA-PKCS-PSS -i "$work/data" -o "$work/pss$id.sig"
	check_rc "openssl verifies the PSS signature ($id)" 0 openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:digest -verify "$work/rsa$id.pub" -signature "$work/pss$id.sig" "$work/data"
done
check "RSA-4096 key read from the token" "$(openssl pkey -in "$keys/rsa4096.key" -pubout)" "$(cat "$work/rsa01.pub")"
check "RSA-3072 key read from the token" "$(openssl pkey -in "$keys/rsa3072.key" -pubout)" "$(cat "$work/rsa04.pub")"
