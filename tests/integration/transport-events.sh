#!/usr/bin/env bash
# Card removal and insertion seen through pcsc_poll_changes() (no thread,
# the caller waits), and a connection that finds its card pulled and put
# back: "card was reset", then it works after a new SELECT.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/transport.sh"
transport_need_card "$@"

# poll:0 records the starting state; poll:300 with nothing happening is a
# timeout (0); poll:5000 wakes up early on the change (1).
"$bin/pcsc_piv" "$r" select poll:0 present poll:300 touch:"$t/ready" wait:"$t/pulled" \
	poll:5000 present select poll:300 touch:"$t/out-done" wait:"$t/inserted" \
	poll:5000 present select select > "$t/out" 2> "$t/err" &
session=$!
wait_for "$t/ready"
"$SIGNET_CARDSIM_CTL" pull || fail "cannot pull the card"
touch "$t/pulled"
wait_for "$t/out-done"
"$SIGNET_CARDSIM_CTL" insert || fail "cannot insert the card"
touch "$t/inserted"
wait $session || fail "pcsc_piv failed: $(cat "$t/err")"

cat > "$t/want" <<EOF
select: ok
poll: 1
present: 1
poll: 0
touch: ok
wait: ok
poll: 1
present: 0
select: card removed
poll: 0
touch: ok
wait: ok
poll: 1
present: 1
select: card was reset
select: ok
EOF
diff -u "$t/want" "$t/out" || fail "unexpected step results"
echo "PASS transport-events"
