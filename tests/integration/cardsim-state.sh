#!/usr/bin/env bash
# The card as a device: its state survives a simulator restart (like a card
# survives being unplugged), it can be pulled and inserted, it comes back by
# itself after pcscd restarts, and two cards work side by side.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card --cards 2

check "two readers" "Signet Cardsim 00 01" "$SIGNET_TEST_READER_2"
serial1=$(sed -n 's/^serial //p' "$SIGNET_CARDSIM_STATE_1")
serial2=$(sed -n 's/^serial //p' "$SIGNET_CARDSIM_STATE_2")
[ "$serial1" != "$serial2" ] || fail "both cards have serial $serial1"
check "card 2 serial" "$(printf '%08X' "$serial2")9000" \
	"$("$SIGNET_CARDSIM_BIN" --apdu "$SIGNET_TEST_READER_2" $sel 00F8000000 | tail -n 1)"

# Change things, restart the simulator, find them again.
check_rc "change-pin" 0 piv -a change-pin -P 123456 -N 13572468
check_rc "generate 9e" 0 piv -a generate -s 9e -A ECCP384 --pin-policy=never -o "$work/p9e.pem"
check_rc "wrong PIN" 1 piv -a verify-pin -P 000000
check_rc "write printed information" 0 piv -a write-object --id 0x5fc109 -f hex -i <(echo 5306880481020001)
pid_before=$("$SIGNET_CARDSIM_CTL" pid)
check_rc "restart" 0 "$SIGNET_CARDSIM_CTL" restart
[ "$("$SIGNET_CARDSIM_CTL" pid)" != "$pid_before" ] || fail "simulator PID unchanged after restart"
check_rc "old simulator gone" 1 running "$pid_before"
check_rc "status after restart" 0 piv -a status
check_match "PIN counter kept" $'^PIN tries left:\t2$' "$out"
check_rc "new PIN kept" 0 piv -a verify-pin -P 13572468
check "9e public key kept" \
	"$(openssl pkey -pubin -in "$work/p9e.pem" -outform DER | tail -c 97 | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)" \
	"$(apdu $sel 00F7009E00 | tail -n 1 | sed -n 's/.*8661\([0-9A-F]\{194\}\)9000$/\1/p')"
check "metadata 9e policy never/never, generated" "01011402020101030101" \
	"$(apdu $sel 00F7009E00 | tail -n 1 | cut -c1-20)"
check_rc "PIN-protected object kept" 0 piv -a verify-pin -P 13572468 -a read-object --id 0x5fc109 -f hex
check_match "object content" "5306880481020001" "$out"

# Pull the card: clients see no card; insert it: the same card is back.
check_rc "pull" 0 "$SIGNET_CARDSIM_CTL" pull
check_rc "reader shows no card" 1 "$SIGNET_CARDSIM_BIN" --wait-reader "$SIGNET_TEST_READER" --timeout 1000
check_rc "yubico-piv-tool without card" 1 piv -a status
check_rc "insert" 0 "$SIGNET_CARDSIM_CTL" insert
check_rc "card back" 0 "$SIGNET_CARDSIM_BIN" --wait-reader "$SIGNET_TEST_READER" --timeout 5000
check_rc "status after insert" 0 piv -a status
check_match "same card" $'^Serial Number:\t'"$serial1"'$' "$out"

# pcscd restarts: the simulators reconnect to the new vpcd by themselves.
old_pcscd=$(cat "$SIGNET_PCSCD_PIDFILE")
check "pcscd PID exported" "$SIGNET_PCSCD_PID" "$old_pcscd"
check_rc "restart pcscd" 0 "$SIGNET_PCSCD_RESTART"
[ "$(cat "$SIGNET_PCSCD_PIDFILE")" != "$old_pcscd" ] || fail "pcscd PID unchanged"
check_rc "old pcscd gone" 1 running "$old_pcscd"
check_rc "status through the new pcscd" 0 piv -a status
check_match "card 1 serial" $'^Serial Number:\t'"$serial1"'$' "$out"
check "card 2 after pcscd restart" "$(printf '%08X' "$serial2")9000" \
	"$("$SIGNET_CARDSIM_BIN" --apdu "$SIGNET_TEST_READER_2" $sel 00F8000000 | tail -n 1)"

# pcscd away for a while: no service, then everything back.
check_rc "stop pcscd" 0 "$SIGNET_PCSCD_STOP"
check_rc "no pcscd" 1 "$SIGNET_CARDSIM_BIN" --apdu "$SIGNET_TEST_READER" 00FD0000
sleep 0.5
check_rc "start pcscd" 0 "$SIGNET_PCSCD_START"
check "GET VERSION after pcscd came back" "0507029000" "$(piv_apdu 00FD0000)"

# The state file is rewritten atomically: no temporary files stay behind.
check "no temporary state files" "" "$(find "$SIGNET_CARD_TMP" -maxdepth 1 -name '*.tmp*')"
