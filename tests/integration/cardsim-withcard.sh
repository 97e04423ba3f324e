#!/usr/bin/env bash
# tests/with-card itself: it passes COMMAND's exit status through, cleans up
# after itself (also when interrupted) and leaves the machine's pcscd socket
# alone.
. "$(dirname "$0")/../lib/card-harness.sh"
trap 'echo "$checks checks passed"' EXIT
work=$(mktemp -d)
trap 'rm -rf "$work"; echo "$checks checks passed"' EXIT
with_card=$SIGNET_TOP/tests/with-card

host_socket=$(stat -c '%d:%i:%Y' /run/pcscd/pcscd.comm 2>/dev/null || echo none)

check_rc "exit status passed through" 7 "$with_card" -- bash -c '
	echo "$SIGNET_CARD_TMP" > '"$work"'/tmp
	echo "$SIGNET_CARDSIM_PID $(cat "$SIGNET_PCSCD_PIDFILE")" > '"$work"'/pids
	[ -S /run/pcscd/pcscd.comm ] || exit 3
	exit 7'
tmp=$(cat "$work/tmp")
check_match "temporary directory named" '^/tmp/signet-card\.' "$tmp"
[ ! -e "$tmp" ] || fail "$tmp left behind"
for pid in $(cat "$work/pids"); do
	check_rc "process $pid stopped" 1 running "$pid"
done

# Two cards, then an interrupt while COMMAND runs.
"$with_card" --cards 2 -- bash -c '
	echo "$SIGNET_CARD_TMP" > '"$work"'/tmp2
	echo "$SIGNET_CARDSIM_PID_1 $SIGNET_CARDSIM_PID_2 $SIGNET_PCSCD_PID" > '"$work"'/pids2
	echo "$SIGNET_TEST_READER_1|$SIGNET_TEST_READER_2" > '"$work"'/readers
	sleep 60' &
runner=$!
for _ in $(seq 100); do [ -s "$work/readers" ] && break; sleep 0.1; done
check "two readers" "Signet Cardsim 00 00|Signet Cardsim 00 01" "$(cat "$work/readers")"
kill -TERM $runner
wait $runner
check "exit status after SIGTERM" 143 "$?"
[ ! -e "$(cat "$work/tmp2")" ] || fail "temporary directory left behind after SIGTERM"
for pid in $(cat "$work/pids2"); do
	check_rc "process $pid stopped after SIGTERM" 1 running "$pid"
done

check "machine's pcscd socket untouched" "$host_socket" \
	"$(stat -c '%d:%i:%Y' /run/pcscd/pcscd.comm 2>/dev/null || echo none)"
check_rc "bad option" 2 "$with_card" --cards 3 -- true
check_rc "no command" 2 "$with_card" --
