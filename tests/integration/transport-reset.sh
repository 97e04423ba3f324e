#!/usr/bin/env bash
# Another program resets the card while we hold a verified PIN: our next
# command reports "card was reset" (the connection is already restored),
# and after a new SELECT the card shows the PIN as no longer verified.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export SIGNET_BUILD=${SIGNET_BUILD:-$top/build}

if [ "${1:-}" != --inside ]; then
	exec "$top/tests/with-card" -- "$0" --inside
fi

bin=$SIGNET_BUILD/tests
t=$SIGNET_CARD_TMP
r=$SIGNET_TEST_READER
pin=$SIGNET_TEST_PIN

fail() { echo "FAIL: $*"; exit 1; }

wait_for() { # file
	for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "timed out waiting for $1"
}

"$bin/pcsc_piv" "$r" select verify:"$pin" status touch:"$t/ready" wait:"$t/go" \
	status select status verify:"$pin" status > "$t/out" 2> "$t/err" &
session=$!
wait_for "$t/ready"
"$bin/pcsc_reset" "$r" > "$t/reset" || fail "pcsc_reset: $(cat "$t/reset")"
[ "$(cat "$t/reset")" = "reset: ok" ] || fail "pcsc_reset said $(cat "$t/reset")"
touch "$t/go"
wait $session || fail "pcsc_piv failed: $(cat "$t/err")"

cat > "$t/want" <<EOF
select: ok
verify: ok
status: verified=1 tries=-1
touch: ok
wait: ok
status: card was reset
select: ok
status: verified=0 tries=3
verify: ok
status: verified=1 tries=-1
EOF
diff -u "$t/want" "$t/out" || fail "unexpected step results"
echo "PASS transport-reset"
