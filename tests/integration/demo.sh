#!/usr/bin/env bash
# make demo's script, twice, in a scratch directory: both runs must succeed.
set -euo pipefail
. "$(dirname "$0")/../lib/fallback.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export SIGNET_DEMO_DIR=$work/demo
# a sanitized module needs its runtime first in every program that loads it
[ -n "${SIGNET_PRELOAD:-}" ] && export LD_PRELOAD=$SIGNET_PRELOAD
"$top/tools/demo.sh" > "$work/run1.log" 2>&1 || { cat "$work/run1.log"; fail "first demo run"; }
grep -q "demo complete" "$work/run1.log" || fail "first run incomplete"
grep -q "token initialised" "$work/run1.log" || fail "first run made no token"
"$top/tools/demo.sh" > "$work/run2.log" 2>&1 || { cat "$work/run2.log"; fail "second demo run"; }
grep -q "exists already" "$work/run2.log" || fail "second run did not reuse the token"
# four signatures on the fallback token, and two on the simulated card when it can run (root):
# the personalised 9C key and a key made on the card
want=4
if [ "$(id -u)" = 0 ]; then
	want=6
	grep -q "the PUK unblocks it" "$work/run2.log" || fail "second run: no card part"
	grep -q "slot 9E" "$work/run2.log" || fail "second run: no certificate for the key made on the card"
else
	grep -q "skipped: the simulated card needs root" "$work/run2.log" || fail "second run: no line about the card"
fi
[ "$(grep -c "Verified OK" "$work/run2.log")" = "$want" ] || fail "second run: not $want verified signatures"
echo "demo ran twice"
