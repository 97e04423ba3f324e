#!/usr/bin/env bash
# Management-key authentication (mutual and one-way, right and wrong key),
# key generation with policies, GET METADATA, PUT/GET DATA round trip, and
# the new keys at work: ECDSA P-256 and Ed25519 signatures and an ECDH
# agreement, each checked independently with OpenSSL.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/transport.sh"
transport_need_card "$@"
key=$SIGNET_TEST_MGMT_KEY
wrong_key=${key%??}FF

# DER SubjectPublicKeyInfo headers in front of a raw P-256 point / Ed25519 key.
spki() { # prefix-hex raw-file out-pem
	{ printf '%s' "$1" | xxd -r -p; cat "$2"; } > "$3.der"
	openssl pkey -pubin -inform DER -in "$3.der" -out "$3" || fail "bad public key in $2"
}

printf 'a message for the card\n' > "$t/msg"
openssl dgst -sha256 -binary "$t/msg" > "$t/hash"
printf '\160\003\060\001\000\161\001\000\376\000' > "$t/obj"
: > "$t/empty"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$t/host.pem" 2> /dev/null
openssl pkey -in "$t/host.pem" -pubout -outform DER | tail -c 65 > "$t/host.point"

# The explicit select before mgmt1 logs the management key out, so that
# the generation after it rests on the one-way authentication alone.
"$bin/pcsc_piv" "$r" meta:80 \
	mgmt:"$wrong_key" mgmt1:"$wrong_key" put:5fc10b:"$t/obj" \
	mgmt:"$key" gen:9d:11:2:1:"$t/p9d" meta:9d \
	put:5fc10b:"$t/obj" get:5fc10b:"$t/obj.back" put:5fc10b:"$t/empty" get:5fc10b:"$t/gone" \
	select mgmt1:"$key" gen:9e:e0:1:1:"$t/p9e" meta:9e \
	verify:"$pin" sign:9d:11:"$t/hash":"$t/sig9d" ecdh:9d:11:"$t/host.point":"$t/secret.card" \
	sign:9e:e0:"$t/msg":"$t/sig9e" serial version \
	> "$t/out" 2> "$t/err" || fail "pcsc_piv failed: $(cat "$t/err")"

grep -qE '^serial: [0-9]+$' "$t/out" || fail "no serial number"
grep -qE '^version: [0-9]+\.[0-9]+\.[0-9]+$' "$t/out" || fail "no version"
grep -qx 'sign: ok 7[0-2] bytes' "$t/out" || fail "no P-256 signature"
sed -i -e '/^serial: /d' -e '/^version: /d' -e 's/^sign: ok 7[0-2] bytes/sign: ok ecdsa/' "$t/out"
cat > "$t/want" <<EOF
meta: alg=FF pin=-1 touch=-1 origin=-1 default=1 retries=3/3 pub=0
mgmt: security status not satisfied
mgmt1: security status not satisfied
put: security status not satisfied
mgmt: ok
gen: ok 65 bytes
meta: alg=11 pin=2 touch=1 origin=1 default=-1 retries=-1/-1 pub=67
put: ok
get: ok 10 bytes
put: ok
get: not found
select: ok
mgmt1: ok
gen: ok 32 bytes
meta: alg=E0 pin=1 touch=1 origin=1 default=-1 retries=-1/-1 pub=34
verify: ok
sign: ok ecdsa
ecdh: ok 32 bytes
sign: ok 64 bytes
EOF
diff -u "$t/want" "$t/out" || fail "unexpected step results"
cmp -s "$t/obj" "$t/obj.back" || fail "object read back differs from the one written"

spki 3059301306072a8648ce3d020106082a8648ce3d030107034200 "$t/p9d" "$t/p9d.pem"
spki 302a300506032b6570032100 "$t/p9e" "$t/p9e.pem"
openssl dgst -sha256 -verify "$t/p9d.pem" -signature "$t/sig9d" "$t/msg" || fail "P-256 signature does not verify"
openssl pkeyutl -verify -pubin -inkey "$t/p9e.pem" -rawin -in "$t/msg" -sigfile "$t/sig9e" ||
	fail "Ed25519 signature does not verify"
openssl pkeyutl -derive -inkey "$t/host.pem" -peerkey "$t/p9d.pem" -out "$t/secret.host" || fail "host ECDH failed"
cmp -s "$t/secret.card" "$t/secret.host" || fail "card and host ECDH secrets differ"
echo "PASS transport-keys"
