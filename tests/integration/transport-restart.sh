#!/usr/bin/env bash
# pcscd restarts under a connected program holding a verified PIN: the next
# command re-establishes the service connection, reconnects and reports
# "card was reset"; the reader list and change polling work again (the
# first poll reports the change of service), and the PIN must be
# verified anew. The pcscd restarted is the one tests/with-card started in
# its private mount namespace, never another one.
set -u
top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/transport.sh"
transport_need_card "$@"

[ -x "${SIGNET_PCSCD_RESTART:-}" ] || fail "the card harness offers no pcscd restart"
old_pcscd=$(cat "$SIGNET_PCSCD_PIDFILE")

"$bin/pcsc_piv" "$r" readers poll:0 poll:100 verify:"$pin" status touch:"$t/ready" wait:"$t/go" \
	status status readers poll:0 poll:100 verify:"$pin" status > "$t/out" 2> "$t/err" &
session=$!
wait_for "$t/ready"
"$SIGNET_PCSCD_RESTART" || fail "pcscd restart failed"
new_pcscd=$(cat "$SIGNET_PCSCD_PIDFILE")
[ "$old_pcscd" != "$new_pcscd" ] || fail "pcscd was not restarted"
# A zombie waiting for the machine's init to reap it does not run.
[ -n "$(ps -o stat= -p "$old_pcscd" | grep -v '^Z')" ] && fail "old pcscd still running"
touch "$t/go"
wait $session || fail "pcsc_piv failed: $(cat "$t/err")"

cat > "$t/want" <<EOF
readers: 2
reader: Signet Cardsim 00 00
reader: Signet Cardsim 00 01
poll: 1
poll: 0
verify: ok
status: verified=1 tries=-1
touch: ok
wait: ok
status: card was reset
status: verified=0 tries=3
readers: 2
reader: Signet Cardsim 00 00
reader: Signet Cardsim 00 01
poll: 1
poll: 0
verify: ok
status: verified=1 tries=-1
EOF
diff -u "$t/want" "$t/out" || fail "unexpected step results"
echo "PASS transport-restart"
