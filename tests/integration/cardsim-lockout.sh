#!/usr/bin/env bash
# PIN and PUK retry counters as independent clients see them: the PIN locks
# after 3 wrong tries, the PUK blocks for good after 5.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card

check_rc "wrong PIN 1 (pkcs11-tool)" 1 p11 --login --pin 000000 -O
check_match "CKR_PIN_INCORRECT" "C_Login failed: rv = CKR_PIN_INCORRECT \(0xa0\)" "$out"
check_rc "wrong PIN 2 (pkcs11-tool)" 1 p11 --login --pin 000000 -O
check_rc "token flags" 0 p11 -T
check_match "final try flag" "token flags +:.*final user PIN try" "$out"
check_rc "PIN status (yubico-piv-tool)" 0 piv -a status
check_match "1 try left" $'^PIN tries left:\t1$' "$out"
check_rc "wrong PIN 3 (pkcs11-tool)" 1 p11 --login --pin 000000 -O
check_match "third wrong PIN" "C_Login failed: rv = CKR_PIN_(INCORRECT|LOCKED)" "$out"
check_rc "right PIN, locked (pkcs11-tool)" 1 p11 --login --pin 123456 -O
check_match "CKR_PIN_LOCKED" "C_Login failed: rv = CKR_PIN_LOCKED \(0xa4\)" "$out"
check_rc "token flags locked" 0 p11 -T
check_match "user PIN locked flag" "token flags +:.*user PIN locked" "$out"
check_rc "right PIN, locked (yubico-piv-tool)" 1 piv -a verify-pin -P 123456
check "blocked message" "Pin code blocked, use unblock-pin action to unblock." "$out"
check "raw VERIFY status word" "6983" "$(apdu 00A4040005A000000308 0020008000 | tail -n 1)"

# Five wrong PUKs block it for ever, even for the right PUK.
for left in 4 3 2 1 0; do
	check_rc "wrong PUK ($left left)" 1 piv -a unblock-pin -P 87654321 -N 123456
	check "wrong PUK message" "Failed verifying puk code, now $left tries left before blocked." "$out"
done
check_rc "right PUK, blocked" 1 piv -a unblock-pin -P 12345678 -N 123456
check "PUK blocked message" "The puk code is blocked, you will have to reinitialize the application." "$out"
check_rc "change-puk, blocked" 1 piv -a change-puk -P 12345678 -N 11223344
check "change-puk blocked message" "The puk code is blocked, you will have to reinitialize the application." "$out"
# The counters survive a restart of the card (state file).
check_rc "restart the simulator" 0 "$SIGNET_CARDSIM_CTL" restart
check_rc "still blocked after restart" 1 piv -a unblock-pin -P 12345678 -N 123456
check "PUK still blocked" "The puk code is blocked, you will have to reinitialize the application." "$out"
check "GET METADATA PUK: 5 tries, 0 left" "01 01 FF 05 01 01 06 02 05 00 90 00" \
	"$(apdu 00A4040005A000000308 00F7008100 | tail -n 1 | sed 's/../& /g; s/ $//')"
