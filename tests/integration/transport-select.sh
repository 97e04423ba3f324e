#!/usr/bin/env bash
# The PIV layer selects the application once per card session: before the
# first command on a connection, and again only after the card lost its
# state (here: reset by another program) or another program selected
# another application on the shared card. The simulator drops the PIN
# status on every SELECT, as a YubiKey does, so a needless SELECT would
# also show as a PIN no longer verified; its APDU trace shows each SELECT.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/transport.sh"
if [ "${1:-}" != --inside ]; then
	exec "$top/tests/with-card" --trace -- "$0" --inside
fi
transport_need_card "$@"

piv_selects() { grep -c '^> 00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00' "$SIGNET_CARDSIM_LOG"; }
other_aid=00A4040008A000000527471117 # YubiKey management application

printf 'select once\n' | openssl dgst -sha256 -binary > "$t/hash"
"$bin/pcsc_piv" "$r" atr status verify:"$pin" status cert:9a:"$t/c9a.der" sign:9a:11:"$t/hash":"$t/sig" \
	version serial meta:9a status count touch:"$t/ready" wait:"$t/go" \
	status status verify:"$pin" status touch:"$t/ready2" wait:"$t/go2" \
	status status count > "$t/out" 2> "$t/err" &
session=$!
wait_for "$t/ready"
[ "$(piv_selects)" = 1 ] || fail "$(piv_selects) SELECTs for one connection's first commands"
"$bin/pcsc_reset" "$r" > "$t/reset" || fail "pcsc_reset: $(cat "$t/reset")"
touch "$t/go"
wait_for "$t/ready2"
[ "$(piv_selects)" = 2 ] || fail "$(piv_selects) SELECTs after the reset, expected 2"
reply=$("$SIGNET_CARDSIM_BIN" --apdu "$r" "$other_aid")
[ "$reply" = 6A82 ] || fail "another program's SELECT answered $reply"
touch "$t/go2"
wait $session || fail "pcsc_piv failed: $(cat "$t/err")"
[ "$(piv_selects)" = 3 ] || fail "$(piv_selects) SELECTs in all, expected 3"

sed -i -e 's/^atr: .* extended=/atr: extended=/' -e 's/^cert: ok [0-9]* bytes/cert: ok/' \
	-e 's/^sign: ok 7[0-2] bytes/sign: ok ecdsa/' -e 's/^serial: [0-9]\{8\}$/serial: ok/' "$t/out"
cat > "$t/want" <<EOF
atr: extended=1
status: verified=0 tries=3
verify: ok
status: verified=1 tries=-1
cert: ok
sign: ok ecdsa
version: 5.7.2
serial: ok
meta: alg=11 pin=2 touch=1 origin=1 default=-1 retries=-1/-1 pub=67
status: verified=1 tries=-1
count: 10
touch: ok
wait: ok
status: card was reset
status: verified=0 tries=3
verify: ok
status: verified=1 tries=-1
touch: ok
wait: ok
status: card was reset
status: verified=0 tries=3
count: 17
EOF
diff -u "$t/want" "$t/out" || fail "unexpected step results"
echo "PASS transport-select"
