#!/usr/bin/env bash
# PIV through the module's own PC/SC transport against the simulated card:
# SELECT, certificates, PIN handling, an ECDSA (9A) and an RSA-2048 (9C)
# signature made by the card and checked with OpenSSL, in extended and in
# short (chained) APDUs, the fallback for a card that refuses extended
# APDUs, and an APDU log that keeps the PIN out.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/transport.sh"

# Once on a card that takes extended APDUs, once on one that does not.
if [ "${1:-}" != --inside ]; then
	"$top/tests/with-card" -- "$0" --inside || exit 1
	exec "$top/tests/with-card" --no-extended -- "$0" --inside --no-extended
fi
transport_need_card "$@"

# The card answers every step as scripted below, line for line.
expect_output() { # expected actual
	diff -u "$1" "$2" || fail "unexpected step results"
}

printf 'a document to sign\n' > "$t/data"
openssl dgst -sha256 -binary "$t/data" > "$t/hash"
# EMSA-PKCS1-v1_5 for SHA-256 and a 2048-bit key: 00 01 FF.. 00 DigestInfo.
{
	printf '\000\001'
	head -c 202 /dev/zero | tr '\000' '\377'
	printf '\000'
	printf '3031300d060960864801650304020105000420' | xxd -r -p
	cat "$t/hash"
} > "$t/block"
[ "$(stat -c %s "$t/block")" = 256 ] || fail "padded block is not 256 bytes"

if [ "${2:-}" = --no-extended ]; then
	# The ATR offers extended APDUs; this card refuses them (6700), so the
	# first signature falls back to chained short APDUs.
	"$bin/pcsc_piv" "$r" atr verify:"$pin" count0 sign:9c:07:"$t/block":"$t/sig9c" count \
		verify:"$pin" count0 sign:9c:07:"$t/block":"$t/sig9c2" count \
		> "$t/out" 2> "$t/err" || fail "pcsc_piv failed: $(cat "$t/err")"
	sed -i 's/^atr: .* extended=/atr: extended=/' "$t/out"
	cat > "$t/want" <<-EOF
	atr: extended=1
	verify: ok
	sign: ok 256 bytes
	count: 4
	verify: ok
	sign: ok 256 bytes
	count: 3
	EOF
	expect_output "$t/want" "$t/out"
	"$bin/pcsc_piv" "$r" cert:9c:"$t/c9c.der" > /dev/null
	openssl x509 -inform DER -in "$t/c9c.der" -pubkey -noout > "$t/p9c.pem" || fail "no 9C certificate"
	openssl dgst -sha256 -verify "$t/p9c.pem" -signature "$t/sig9c" "$t/data" || fail "RSA signature (fallback) does not verify"
	openssl dgst -sha256 -verify "$t/p9c.pem" -signature "$t/sig9c2" "$t/data" || fail "RSA signature (short) does not verify"
	echo "PASS transport-piv --no-extended"
	exit 0
fi

"$bin/pcsc_piv" "$r" log atr status verify:99999999 status verify:"$pin" status \
	cert:9a:"$t/c9a.der" cert:9c:"$t/c9c.der" \
	sign:9a:11:"$t/hash":"$t/sig9a" \
	verify:"$pin" count0 sign:9c:07:"$t/block":"$t/sig9c" count \
	extended:off verify:"$pin" count0 sign:9c:07:"$t/block":"$t/sig9c-short" count \
	> "$t/out" 2> "$t/log" || fail "pcsc_piv failed: $(cat "$t/log")"
grep -qx 'cert: ok [0-9]* bytes' "$t/out" || fail "no certificate read"
grep -qx 'sign: ok 7[0-2] bytes' "$t/out" || fail "no ECDSA signature of a P-256 size"
sed -i -e 's/^atr: .* extended=/atr: extended=/' -e 's/^cert: ok [0-9]* bytes/cert: ok/' \
	-e 's/^sign: ok 7[0-2] bytes/sign: ok ecdsa/' "$t/out"
cat > "$t/want" <<EOF
atr: extended=1
status: verified=0 tries=3
verify: wrong PIN tries=2
status: verified=0 tries=2
verify: ok
status: verified=1 tries=-1
cert: ok
cert: ok
sign: ok ecdsa
verify: ok
sign: ok 256 bytes
count: 1
verify: ok
sign: ok 256 bytes
count: 3
EOF
expect_output "$t/want" "$t/out"

openssl x509 -inform DER -in "$t/c9a.der" -pubkey -noout > "$t/p9a.pem" || fail "9A certificate does not parse"
openssl x509 -inform DER -in "$t/c9c.der" -pubkey -noout > "$t/p9c.pem" || fail "9C certificate does not parse"
openssl dgst -sha256 -verify "$t/p9a.pem" -signature "$t/sig9a" "$t/data" || fail "ECDSA signature does not verify"
openssl dgst -sha256 -verify "$t/p9c.pem" -signature "$t/sig9c" "$t/data" || fail "RSA signature (extended) does not verify"
openssl dgst -sha256 -verify "$t/p9c.pem" -signature "$t/sig9c-short" "$t/data" || fail "RSA signature (short) does not verify"
# A signature over other data must not verify: the checks above can fail.
printf 'another document\n' > "$t/other"
if openssl dgst -sha256 -verify "$t/p9a.pem" -signature "$t/sig9a" "$t/other" > /dev/null 2>&1; then
	fail "ECDSA signature verifies over the wrong data"
fi

# The log shows the VERIFY header and length, never the PIN.
pin_hex=$(printf '%s' "$pin" | xxd -p | sed 's/../& /g; s/ $//' | tr a-f A-F)
grep -q "apdu > 00 20 00 80 08 \[8 data bytes hidden\]" "$t/log" || fail "VERIFY not logged as hidden"
grep -q "apdu > 00 87 11 9A" "$t/log" || fail "signing APDU not logged"
# The PIV layer selected the application once, before the first command.
[ "$(grep -c '^apdu > 00 A4 04 00' "$t/log")" = 1 ] || fail "not exactly one SELECT in the APDU log"
if grep -qi "$pin_hex" "$t/log"; then
	fail "PIN bytes in the APDU log"
fi
echo "PASS transport-piv"
