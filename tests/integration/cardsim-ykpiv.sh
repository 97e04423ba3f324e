#!/usr/bin/env bash
# yubico-piv-tool (Yubico's own PIV client) against the simulated card:
# status, PIN/PUK handling, management key, key generation, certificates,
# attestation, retry counters and the reset of a blocked card.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card

new_key=080706050403020108070605040302010807060504030201
serial=$(sed -n 's/^serial //p' "$SIGNET_CARDSIM_STATE")

check_rc "status" 0 piv -a status
check_match "status version" $'^Version:\t5\\.7\\.2$' "$out"
check_match "status serial" $'^Serial Number:\t'"$serial"'$' "$out"
check_match "status PIN tries" $'^PIN tries left:\t3$' "$out"
check_match "status 9a" $'Slot 9a:\t\n\tAlgorithm:\tECCP256' "$(printf '%s\n' "$out" | sed -n '/Slot 9a/,+1p')"
check_match "status 9c" $'Algorithm:\tRSA2048' "$(printf '%s\n' "$out" | sed -n '/Slot 9c/,+1p')"

check_rc "verify-pin" 0 piv -a verify-pin -P 123456
check "verify-pin message" "Successfully verified PIN." "$out"
check_rc "verify wrong PIN" 1 piv -a verify-pin -P 000000
check "wrong PIN message" "Pin verification failed, 2 tries left before pin is blocked." "$out"
check_rc "verify after a wrong PIN" 0 piv -a verify-pin -P 123456
check_rc "status shows the counter reset" 0 piv -a status
check_match "PIN tries back to 3" $'^PIN tries left:\t3$' "$out"

check_rc "change-pin" 0 piv -a change-pin -P 123456 -N 24681357
check "change-pin message" "Successfully changed the pin code." "$out"
check_rc "old PIN refused" 1 piv -a verify-pin -P 123456
check_rc "new PIN accepted" 0 piv -a verify-pin -P 24681357
check "PIN metadata: not default, 3 of 3" "0101FF0501000602030390 00" \
	"$(apdu 00A4040005A000000308 00F7008000 | tail -n 1 | sed 's/9000$/90 00/')"

# Block the PIN, then unblock it with the PUK.
check_rc "wrong PIN 1" 1 piv -a verify-pin -P 111111
check_rc "wrong PIN 2" 1 piv -a verify-pin -P 111111
check "1 try left" "Pin verification failed, 1 tries left before pin is blocked." "$out"
check_rc "wrong PIN 3" 1 piv -a verify-pin -P 111111
check "PIN blocked" "Pin code blocked, use unblock-pin action to unblock." "$out"
check_rc "right PIN while blocked" 1 piv -a verify-pin -P 24681357
check "still blocked" "Pin code blocked, use unblock-pin action to unblock." "$out"
check_rc "unblock-pin wrong PUK" 1 piv -a unblock-pin -P 87878787 -N 123456
check "wrong PUK message" "Failed verifying puk code, now 4 tries left before blocked." "$out"
check_rc "unblock-pin" 0 piv -a unblock-pin -P 12345678 -N 123456
check "unblock message" "Successfully unblocked the pin code." "$out"
check_rc "PIN after unblock" 0 piv -a verify-pin -P 123456
check "PIN metadata: default again" "0101FF05010106020303" \
	"$(apdu 00A4040005A000000308 00F7008000 | tail -n 1 | cut -c1-20)"
check "PUK metadata: default, counter reset to 5" "0101FF05010106020505" \
	"$(apdu 00A4040005A000000308 00F7008100 | tail -n 1 | cut -c1-20)"
check_rc "change-puk" 0 piv -a change-puk -P 12345678 -N 11223344
check "change-puk message" "Successfully changed the puk code." "$out"

# Management key: the new one works, the old one no longer does.
check_rc "set-mgm-key" 0 piv -a set-mgm-key -n "$new_key"
check "set-mgm-key message" "Successfully set new management key." "$out"
check_rc "old management key refused" 1 piv -a generate -s 9d -A ECCP256
check "old key message" "Failed authentication with the application." "$out"

# Generate in 9d, certify the public key with a local CA, import, read back.
check_rc "generate 9d" 0 piv -k"$new_key" -a generate -s 9d -A ECCP256 --pin-policy=once -o "$work/pub9d.pem"
check "generate message" "Successfully generated a new private key." "$out"
check_rc "public key parses" 0 openssl pkey -pubin -in "$work/pub9d.pem" -noout -text
check_match "public key is P-256" "NIST CURVE: P-256" "$out"

# yubico-piv-tool 2.2.0 built with OpenSSL 3 fails selfsign-certificate
# before it sends anything to the card (a known upstream problem of that
# release, seen with real YubiKeys too). Newer releases must succeed.
before=$(apdu_count)
piv -a verify-pin -P 123456 -a selfsign -s 9d -S "/CN=selfsigned 9d/" -i "$work/pub9d.pem" -o "$work/self9d.pem" > "$work/selfsign.out" 2>&1
rc=$?
if yubico-piv-tool --version | grep -q '^yubico-piv-tool 2\.2\.0$'; then
	check "selfsign with 2.2.0 fails" 1 "$rc"
	check_match "selfsign message" "^Failed signing certificate\.$" "$(cat "$work/selfsign.out")"
	# SELECT, VERIFY status, GET VERSION, GET SERIAL, VERIFY: no GENERAL AUTHENTICATE.
	check "selfsign sent no signing APDU" $((before + 5)) "$(apdu_count)"
else
	check "selfsign" 0 "$rc"
	check_rc "selfsigned cert verifies" 0 openssl verify -CAfile "$work/self9d.pem" "$work/self9d.pem"
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=test CA" \
	-keyout "$work/ca.key" -out "$work/ca.pem" -days 30 2> /dev/null || fail "CA creation"
openssl req -new -key "$work/ca.key" -subj "/CN=cardsim 9d" -out "$work/req.pem" 2> /dev/null || fail "request"
openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
	-force_pubkey "$work/pub9d.pem" -days 30 -out "$work/cert9d.pem" 2> /dev/null || fail "certificate"
check_rc "import-certificate" 0 piv -k"$new_key" -a import-certificate -s 9d -i "$work/cert9d.pem"
check "import message" "Successfully imported a new certificate." "$out"
check_rc "read-certificate" 0 piv -a read-certificate -s 9d -o "$work/read9d.pem"
check "read back the same certificate" "$(openssl x509 -in "$work/cert9d.pem" -outform DER | sha256sum)" \
	"$(openssl x509 -in "$work/read9d.pem" -outform DER | sha256sum)"
check_rc "test-signature 9d" 0 piv -a verify-pin -P 123456 -a test-signature -s 9d -i "$work/cert9d.pem"
check_match "ECDSA verified by the client" "^Successful ECDSA verification\.$" "$out"
check_rc "test-signature 9d without PIN" 1 piv -a test-signature -s 9d -i "$work/cert9d.pem"
check_rc "read-certificate 9c" 0 piv -a read-certificate -s 9c -o "$work/cert9c.pem"
check_rc "test-decipher 9c (RSA)" 0 piv -a verify-pin -P 123456 -a test-decipher -s 9c -i "$work/cert9c.pem"
check_match "RSA decryption" "^Successfully performed RSA decryption!$" "$out"
check_rc "test-signature 9c (RSA, PIN always)" 0 piv -a verify-pin -P 123456 -a test-signature -s 9c -i "$work/cert9c.pem"
check_match "RSA verified" "^Successful RSA verification\.$" "$out"

# Attestation: the certificate for 9d is signed by the F9 key.
check_rc "read-certificate f9" 0 piv -a read-certificate -s f9 -o "$work/f9.pem"
check_rc "attest 9d" 0 piv -a attest -s 9d -o "$work/att9d.pem"
check_rc "attestation verifies" 0 openssl verify -partial_chain -CAfile "$work/f9.pem" "$work/att9d.pem"
check "attested key is the 9d key" "$(openssl pkey -pubin -in "$work/pub9d.pem" -outform DER | sha256sum)" \
	"$(openssl x509 -in "$work/att9d.pem" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum)"

# IMPORT KEY: a P-384 key into 9e (PIN never) and an RSA-2048 key into retired slot 82.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/ec.key" 2> /dev/null || fail "EC key"
openssl req -x509 -key "$work/ec.key" -subj "/CN=imported 9e" -days 30 -out "$work/ec.pem" 2> /dev/null || fail "EC cert"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.key" 2> /dev/null || fail "RSA key"
openssl req -x509 -key "$work/rsa.key" -subj "/CN=imported 82" -days 30 -out "$work/rsa.pem" 2> /dev/null || fail "RSA cert"
check_rc "import-key 9e" 0 piv -k"$new_key" -a import-key -s 9e -i "$work/ec.key" --pin-policy=never
check "import-key message" "Successfully imported a new private key." "$out"
check_rc "import-certificate 9e" 0 piv -k"$new_key" -a import-certificate -s 9e -i "$work/ec.pem"
check_rc "test-signature 9e without PIN" 0 piv -a test-signature -s 9e -i "$work/ec.pem"
check_match "imported P-384 key signs" "^Successful ECDSA verification\.$" "$out"
check_rc "import-key 82" 0 piv -k"$new_key" -a import-key -s 82 -i "$work/rsa.key"
check_rc "import-certificate 82" 0 piv -k"$new_key" -a import-certificate -s 82 -i "$work/rsa.pem"
check_rc "test-signature 82" 0 piv -a verify-pin -P 123456 -a test-signature -s 82 -i "$work/rsa.pem"
check_match "imported RSA key signs" "^Successful RSA verification\.$" "$out"
check_rc "test-decipher 82" 0 piv -a verify-pin -P 123456 -a test-decipher -s 82 -i "$work/rsa.pem"
check "metadata 82: RSA-2048, PIN once, imported" "01010702020201030102" \
	"$(apdu 00A4040005A000000308 00F7008200 | tail -n 1 | cut -c1-20)"
check_rc "no attestation for imported keys" 1 piv -a attest -s 82
check "attest refused" "Failed to attest data." "$out"

# CHUID, CCC and certificate deletion.
chuid_before=$(piv -a status | sed -n 's/^CHUID:\t//p')
check_rc "set-chuid" 0 piv -k"$new_key" -a set-chuid
check "set-chuid message" "Successfully set new CHUID." "$out"
chuid_after=$(piv -a status | sed -n 's/^CHUID:\t//p')
check_match "new CHUID has the FASC-N" '^3019d4e739da739ced39ce739d836858210842108421c84210c3eb3410[0-9a-f]{32}350832303330303130313e00fe00$' "$chuid_after"
[ "$chuid_after" != "$chuid_before" ] || fail "CHUID unchanged by set-chuid"
check_rc "set-ccc" 0 piv -k"$new_key" -a set-ccc
check "set-ccc message" "Successfully set new CCC." "$out"
check_rc "delete-certificate 9c" 0 piv -k"$new_key" -a delete-certificate -s 9c
check_rc "9c certificate gone" 1 piv -a read-certificate -s 9c
check "read-certificate message" "Failed fetching certificate." "$out"

# Retry counters: needs the PIN and the management key; resets PIN and PUK.
check_rc "pin-retries without PIN" 1 piv -k"$new_key" -a pin-retries --pin-retries 5 --puk-retries 4
check_rc "pin-retries" 0 piv -k"$new_key" -a verify-pin -P 123456 -a pin-retries --pin-retries 5 --puk-retries 4
check_match "pin-retries message" "^Successfully changed pin retries to 5 and puk retries to 4, both codes have been reset to default now\.$" "$out"
check_rc "status after pin-retries" 0 piv -a status
check_match "PIN tries now 5" $'^PIN tries left:\t5$' "$out"

# Reset: refused while the codes work, accepted once PIN and PUK are blocked.
check_rc "reset refused" 1 piv -a reset
check "reset refused message" "Reset failed, are pincodes blocked?" "$out"
for _ in 1 2 3 4 5; do piv -a verify-pin -P 999999 > /dev/null 2>&1; done
for _ in 1 2 3; do piv -a unblock-pin -P 99999999 -N 123456 > /dev/null 2>&1; done
check_rc "last wrong PUK" 1 piv -a unblock-pin -P 99999999 -N 123456
check_match "PUK blocked" "blocked" "$out"
check_rc "reset" 0 piv -a reset
check "reset message" "Successfully reset the application." "$out"
check_rc "status after reset" 0 piv -a status
check_match "no CHUID after reset" $'^CHUID:\tNo data available$' "$out"
check_no_match "no certificates after reset" "^Slot 9" "$out"
check_match "PIN tries 3 after reset" $'^PIN tries left:\t3$' "$out"
check_rc "default PIN after reset" 0 piv -a verify-pin -P 123456
check_rc "default management key after reset" 0 piv -a generate -s 9a -A ECCP256 -o /dev/null
