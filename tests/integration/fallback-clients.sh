#!/usr/bin/env bash
# pkcs11-tool against the fallback token through signet: library info, slots,
# mechanisms, its --test run, and signatures of every common mechanism checked
# by openssl. Also: the module exports only its three entry points.
set -euo pipefail
. "$(dirname "$0")/../lib/fallback.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fallback_setup "$work"

exports=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
[ "$exports" = "C_GetFunctionList C_GetInterface C_GetInterfaceList " ] || fail "exports: $exports"

fallback_token clients
p11() { run_client pkcs11-tool --module "$MODULE" "$@"; }
p11 -I -L -M > "$work/ilm.txt" || fail "pkcs11-tool -I -L -M"
grep -q "Manufacturer *signet" "$work/ilm.txt" || fail "no library info"
grep -q "token label *: clients" "$work/ilm.txt" || fail "no token in -L"
grep -q "ECDSA-SHA256" "$work/ilm.txt" || fail "ECDSA-SHA256 not listed"

P="p11 --token-label clients --login --pin $PIN"
$P --keypairgen --key-type rsa:2048 --id 01 --label rsa --usage-sign >/dev/null
$P --keypairgen --key-type EC:prime256v1 --id 02 --label ec --usage-sign >/dev/null

$P --test > "$work/test.txt" 2>&1 || { cat "$work/test.txt"; fail "pkcs11-tool --test"; }
grep -q "^No errors" "$work/test.txt" || fail "pkcs11-tool --test did not say No errors"

cd "$work"
printf 'data to be signed\n' > data.txt
openssl dgst -sha256 -binary data.txt > data.sha256
( printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat data.sha256 ) > data.di
$P --read-object --type pubkey --id 01 -o rsa.pub.der >/dev/null 2>&1
openssl pkey -pubin -inform DER -in rsa.pub.der -out rsa.pub
# The EC key from its CKA_EC_POINT (pkcs11-tool's own EC export reads freed memory under ASan):
# a P-256 SubjectPublicKeyInfo header, then the 65-byte point inside the DER OCTET STRING.
point=$($P --list-objects --type pubkey 2>/dev/null | awk '/EC_POINT:/ { print $2; exit }')
[ ${#point} = 134 ] || fail "unexpected EC_POINT $point"
hex=3059301306072a8648ce3d020106082a8648ce3d030107034200${point:4}
printf "$(sed 's/../\\x&/g' <<<"$hex")" > ec.pub.der
openssl pkey -pubin -inform DER -in ec.pub.der -out ec.pub

verify() { # name, then the openssl command
	local name=$1; shift
	"$@" > "$name.out" 2>&1 || { cat "$name.out"; fail "$name does not verify"; }
	echo "ok $name: $(tail -1 "$name.out")"
}
$P --sign --id 01 -m RSA-PKCS -i data.di -o s1 2>/dev/null
verify RSA-PKCS openssl dgst -sha256 -verify rsa.pub -signature s1 data.txt
$P --sign --id 01 -m SHA256-RSA-PKCS -i data.txt -o s2 2>/dev/null
verify SHA256-RSA-PKCS openssl dgst -sha256 -verify rsa.pub -signature s2 data.txt
$P --sign --id 01 -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 -i data.sha256 -o s3 2>/dev/null
verify RSA-PKCS-PSS openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify rsa.pub -signature s3 data.txt
$P --sign --id 02 -m ECDSA --signature-format openssl -i data.sha256 -o s4 2>/dev/null
verify ECDSA openssl dgst -sha256 -verify ec.pub -signature s4 data.txt
$P --sign --id 02 -m ECDSA-SHA256 --signature-format openssl -i data.txt -o s5 2>/dev/null
verify ECDSA-SHA256 openssl dgst -sha256 -verify ec.pub -signature s5 data.txt
# and a tampered document does not
printf 'data to be signed!\n' > other.txt
if openssl dgst -sha256 -verify ec.pub -signature s5 other.txt >/dev/null 2>&1; then fail "tampered data verified"; fi

# CSRs through OpenSSL's libp11 engine (the default for RSA and EC inside the process signet runs
# in), certified by a test CA, the certificates written next to their keys and found by CKA_ID
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
	-subj "/CN=fallback test CA" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null || fail "test CA"
for id in 01 02; do
	PKCS11_MODULE_PATH=$MODULE run_client timeout 60 openssl req -new -engine pkcs11 -keyform engine \
		-key "pkcs11:token=clients;id=%$id;type=private?pin-value=$PIN" -subj "/CN=engine $id" \
		-out "$id.csr" > "$id.csr.out" 2>&1 || { cat "$id.csr.out"; fail "engine CSR with key $id"; }
	openssl req -in "$id.csr" -noout -verify >/dev/null 2>&1 || fail "the engine CSR of $id does not verify"
	openssl x509 -req -in "$id.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -outform DER \
		-out "$id.der" 2>/dev/null || fail "the CA issues $id"
	$P --write-object "$id.der" --type cert --id "$id" --label "cert$id" >/dev/null 2>&1 || fail "write cert $id"
	$P --read-object --type cert --id "$id" -o "$id.read" >/dev/null 2>&1 || fail "no certificate with CKA_ID $id"
	cmp -s "$id.der" "$id.read" || fail "the certificate with CKA_ID $id is not the one written"
	echo "ok engine CSR, certificate for key $id"
done

# pass-through beyond signing: digest, random, AES encryption and decryption, ECDH derivation
$P --hash -m SHA256 -i data.txt -o h.bin 2>/dev/null
cmp -s h.bin data.sha256 || fail "C_Digest SHA-256 differs from openssl"
echo "ok digest"
$P --generate-random 48 -o rnd.bin 2>/dev/null
[ "$(stat -c %s rnd.bin)" = 48 ] || fail "C_GenerateRandom length"
echo "ok random"
# pkcs11-tool asks for an insensitive key unless told otherwise, which signet refuses
out=$($P --keygen --key-type AES:32 --id 11 --label weak 2>&1 || true)
grep -q CKR_TEMPLATE_INCONSISTENT <<<"$out" || fail "an insensitive AES key was accepted: $out"
$P --keygen --key-type AES:32 --sensitive --id 10 --label aes >/dev/null 2>&1 || fail "AES key generation"
iv=000102030405060708090a0b0c0d0e0f
$P --encrypt --id 10 -m AES-CBC-PAD --iv $iv -i data.txt -o enc.bin 2>/dev/null || fail "AES encrypt"
$P --decrypt --id 10 -m AES-CBC-PAD --iv $iv -i enc.bin -o dec.txt 2>/dev/null || fail "AES decrypt"
cmp -s dec.txt data.txt || fail "AES round trip"
cmp -s enc.bin data.txt && fail "AES did not encrypt"
echo "ok AES-CBC-PAD encrypt/decrypt"
# ECDH with a peer key made by openssl: both sides must derive the same secret
openssl ecparam -name prime256v1 -genkey -noout -out peer.key 2>/dev/null
openssl ec -in peer.key -pubout -outform DER -out peer.pub.der 2>/dev/null
$P --keypairgen --key-type EC:prime256v1 --id 03 --label ecdh --usage-derive >/dev/null
point=$($P --list-objects --type pubkey 2>/dev/null | awk '/EC_POINT:/ { p = $2 } /label: *ecdh$/ { print p; exit }')
printf "$(sed 's/../\\x&/g' <<<"3059301306072a8648ce3d020106082a8648ce3d030107034200${point:4}")" > ecdh.pub.der
openssl pkey -pubin -inform DER -in ecdh.pub.der -out ecdh.pub
$P --derive --id 03 -m ECDH1-DERIVE -i peer.pub.der -o shared.bin 2>derive.err || { cat derive.err; fail "ECDH derive"; }
openssl pkeyutl -derive -inkey peer.key -peerkey ecdh.pub -out shared.openssl 2>/dev/null
cmp -s shared.bin shared.openssl || fail "ECDH secrets differ"
echo "ok ECDH derive: same secret as openssl's"

# a wrong PIN: exactly one C_Login, CKR_PIN_INCORRECT
out=$(p11 --token-label clients --login --pin 000000 -O 2>&1 || true)
grep -q "CKR_PIN_INCORRECT" <<<"$out" || fail "wrong PIN: $out"
echo "fallback clients: all good"
