#!/usr/bin/env bash
# Another program resets the card while we hold a verified PIN: our next
# command reports "card was reset" (the connection is already restored),
# and the one after it, preceded by the SELECT the PIV layer sends by
# itself in the new card session, shows the PIN as no longer verified.
# Then the same while we hold a transaction: the reset has to wait until
# the transaction ends, and only then do we see it.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/transport.sh"
transport_need_card "$@"

"$bin/pcsc_piv" "$r" verify:"$pin" status touch:"$t/ready" wait:"$t/go" \
	status status verify:"$pin" status > "$t/out" 2> "$t/err" &
session=$!
wait_for "$t/ready"
"$bin/pcsc_reset" "$r" > "$t/reset" || fail "pcsc_reset: $(cat "$t/reset")"
[ "$(cat "$t/reset")" = "reset: ok" ] || fail "pcsc_reset said $(cat "$t/reset")"
touch "$t/go"
wait $session || fail "pcsc_piv failed: $(cat "$t/err")"

cat > "$t/want" <<EOF
verify: ok
status: verified=1 tries=-1
touch: ok
wait: ok
status: card was reset
status: verified=0 tries=3
verify: ok
status: verified=1 tries=-1
EOF
diff -u "$t/want" "$t/out" || fail "unexpected step results"

rm -f "$t/ready" "$t/go"
"$bin/pcsc_piv" "$r" begin verify:"$pin" touch:"$t/ready" wait:"$t/go" status end \
	wait:"$t/reset-done" status status > "$t/out2" 2> "$t/err2" &
session=$!
wait_for "$t/ready"
"$bin/pcsc_reset" "$r" > "$t/reset2" &
resetter=$!
sleep 0.5
kill -0 $resetter 2>/dev/null || fail "the reset did not wait for our transaction"
touch "$t/go"
wait $resetter || fail "pcsc_reset: $(cat "$t/reset2")"
touch "$t/reset-done"
wait $session || fail "pcsc_piv failed: $(cat "$t/err2")"

cat > "$t/want2" <<EOF
begin: ok
verify: ok
touch: ok
wait: ok
status: verified=1 tries=-1
end: ok
wait: ok
status: card was reset
status: verified=0 tries=3
EOF
diff -u "$t/want2" "$t/out2" || fail "unexpected step results inside a transaction"
echo "PASS transport-reset"
