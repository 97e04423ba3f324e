#!/usr/bin/env bash
# Application selection as a YubiKey does it, which is the simulator's
# default: after power-on nothing is selected and PIV commands answer 6D00
# until the client SELECTs PIV; selecting another AID deselects PIV; and
# selecting PIV again while it is selected drops the PIN status and the
# management-key authentication. With --preselected and
# --keep-status-on-reselect the card behaves as SP 800-73-4 describes.
# Each part runs on one PC/SC connection, so only the card's own rules
# decide what it remembers.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card

apt=61114F0600001000010079074F05A0000003089000
other_aid=00A4040008A000000527471117 # YubiKey management application
status=0020008000
verify=0020008008313233343536FFFF
put_chuid=00DB3FFF095C035FC1025302AABB
mgmt=$SIGNET_TEST_MGMT_KEY
hex() { od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }

mgmt_auth() { # one-way 3DES authentication with the default key
	local answer
	send 0087039B047C028100
	check_match "management challenge" '^7C0A8108[0-9A-F]{16}9000$' "$reply"
	answer=$(printf '%s' "${reply:8:16}" | xxd -r -p | openssl enc -e -des-ede3 -K "$mgmt" -nopad | hex)
	send "0087039B0C7C0A8208$answer"
	check "management key authenticated" 9000 "$reply"
}

# Every PIV and YubiKey instruction is refused before the first SELECT.
open_card
for cmd in 00CB3FFF035C017E00 $status $verify 0087119A047C028200 00F7008000 00FD0000 00F8000000 \
	$put_chuid 0047009A05AC03800111 00F99A0000 00FB0000 00FA0303 00F6FF9A00 \
	00240080103132333435363738FFFFFFFFFFFFFF00 \
	002C0080103132333435363738313233343536FFFF; do
	send "$cmd"
	check "before SELECT: $cmd" 6D00 "$reply"
done
send 00C0000000
check "GET RESPONSE with nothing pending" 6985 "$reply"
send $sel
check "SELECT" "$apt" "$reply"
send $status
check "PIN not verified after SELECT" 63C3 "$reply"

# Selecting PIV again logs the PIN out (YubiKey 4/5; OpenSC issue 1460).
send $verify
check "VERIFY" 9000 "$reply"
send $status
check "PIN verified" 9000 "$reply"
send $sel
check "SELECT again" "$apt" "$reply"
send $status
check "PIN status dropped by the second SELECT" 63C3 "$reply"

# ... and forgets the management key.
mgmt_auth
send $put_chuid
check "PUT DATA with the management key" 9000 "$reply"
send $sel
send $put_chuid
check "PUT DATA after SELECT again" 6982 "$reply"

# Another AID: not found here, and PIV is no longer selected.
send $verify
check "VERIFY before selecting another AID" 9000 "$reply"
send $other_aid
check "SELECT another AID" 6A82 "$reply"
send 00FD0000
check "GET VERSION after another AID" 6D00 "$reply"
send $status
check "VERIFY status after another AID" 6D00 "$reply"
send $sel
check "SELECT PIV back" "$apt" "$reply"
send $status
check "PIN status gone with the deselection" 63C3 "$reply"
close_card

# A card reset by another program, a pulled and reinserted card and a
# restarted simulator all come back with nothing selected.
open_card
send $sel
send $verify
check "VERIFY before the reset" 9000 "$reply"
check_rc "reset by another program" 0 "$SIGNET_BUILD/tests/pcsc_reset" "$SIGNET_TEST_READER"
send 00FD0000
check "old connection told of the reset" "ERR 80100068" "$reply"
close_card
check "after a reset" 6D00 "$(apdu 00FD0000)"
check_rc "pull" 0 "$SIGNET_CARDSIM_CTL" pull
check_rc "insert" 0 "$SIGNET_CARDSIM_CTL" insert
check "after pull and insert" 6D00 "$(apdu 00FD0000)"
check "SELECT, then GET VERSION" "$apt 0507029000" "$(apdu $sel 00FD0000 | paste -sd ' ')"
check_rc "restart" 0 "$SIGNET_CARDSIM_CTL" restart
check "after a restart" 6D00 "$(apdu 00FD0000)"

# SP 800-73-4: PIV selected from power-on, kept when another AID is not
# found, and its security status kept when it is selected again.
check_rc "restart --preselected" 0 "$SIGNET_CARDSIM_CTL" restart --preselected
open_card
send 00FD0000
check "--preselected: GET VERSION at once" 0507029000 "$reply"
send $verify
send $other_aid
check "--preselected: another AID" 6A82 "$reply"
send $status
check "--preselected: PIV still selected, PIN still verified" 9000 "$reply"
send $sel
send $status
check "--preselected alone: SELECT again still logs out" 63C3 "$reply"
close_card

check_rc "restart --keep-status-on-reselect" 0 "$SIGNET_CARDSIM_CTL" restart --keep-status-on-reselect
open_card
send 00FD0000
check "--keep-status-on-reselect alone: nothing selected at power-on" 6D00 "$reply"
send $sel
send $verify
mgmt_auth
send $sel
check "--keep-status-on-reselect: SELECT again" "$apt" "$reply"
send $status
check "--keep-status-on-reselect: PIN still verified" 9000 "$reply"
send $put_chuid
check "--keep-status-on-reselect: management key still authenticated" 9000 "$reply"
send $other_aid
send $sel
send $status
check "--keep-status-on-reselect: another AID still deselects" 63C3 "$reply"
close_card
check_rc "restart with the defaults" 0 "$SIGNET_CARDSIM_CTL" restart
check "defaults again" 6D00 "$(apdu 00FD0000)"
