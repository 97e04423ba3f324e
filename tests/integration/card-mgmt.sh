#!/usr/bin/env bash
# Where signet takes the card's management key from, in order: [card]
# management_key, the YubiKey's PIN-protected store (ADMIN DATA says it is
# used, PRINTED holds it once the PIN is verified), the card's default, whose
# algorithm GET METADATA tells (AES-192 on a YubiKey 5.7). A key the card
# refuses ends as CKR_FUNCTION_FAILED with a log line saying where it came
# from, and nothing is written, as the card itself shows. No key is ever in
# the log, not even at log_level apdu.
# Runs with extended-length APDUs and with a card that refuses them.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/card-harness.sh"
. "$top/tests/lib/card-p11.sh"
both_variants
pin=$SIGNET_TEST_PIN
card_conf "[module]" "log_level = apdu" "log_file = $work/signet.log"

hex() { od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }
unhex() { xxd -r -p; }
ecb() { printf '%s' "$3" | unhex | openssl enc -e "-$1" -K "$2" -nopad | hex; }
cipher() { case $1 in 03) echo des-ede3 ;; 08) echo aes-128-ecb ;; 0A) echo aes-192-ecb ;; 0C) echo aes-256-ecb ;; esac; }

# as_admin ALG KEY APDU...: one-way authentication with the card's key, then the APDUs
as_admin() {
	local alg=$1 key=$2 n
	shift 2
	open_card
	send "$sel"
	send "0087${alg}9B047C028100"
	n=$(((${#reply} - 12) / 2))
	send "$(printf '0087%s9B%02X7C%02X82%02X' "$alg" $((n + 4)) $((n + 2)) "$n")$(ecb "$(cipher "$alg")" "$key" "${reply:8:$((2 * n))}")"
	check "management key $alg accepted" 9000 "$reply"
	for a in "$@"; do
		send "$a"
		check "APDU ${a:0:8}" 9000 "$reply"
	done
	send "$sel" # drops the card's management-key status
	close_card
}
set_key() { # old-alg old-key new-alg new-key
	as_admin "$1" "$2" "$(printf '00FFFFFF%02X%s9B%02X%s' $((3 + ${#4} / 2)) "$3" $((${#4} / 2)) "$4")"
}
gen() { drive init slots open login:user:"$pin" "gen:p256:$1" finalize; printf '%s\n' "$out" | grep '^gen'; }

default=$SIGNET_TEST_MGMT_KEY
k1=$(head -c 32 /dev/urandom | hex)
k2=$(head -c 24 /dev/urandom | hex)
wrong=$(head -c 32 /dev/urandom | hex)

# ---- the card's default: 3DES, then AES-192 as a YubiKey 5.7 has it ----
check "default 3DES key" "gen: CKR_OK 03" "$(gen 03)"
set_key 03 "$default" 0A "$default"
check_match "the card says: AES-192, still the default" "^01010A.*050101" "$(card_metadata 9B)"
check "default AES-192 key, its type from GET METADATA" "gen: CKR_OK 04" "$(gen 04)"

# ---- a key of the card's own: only the configuration knows it ----
set_key 0A "$default" 0C "$k1"
check "no key known" "gen: CKR_FUNCTION_FAILED" "$(gen 05)"
check_match "the log says why" "has a management key of its own.*nothing written" "$(cat "$work/signet.log")"
card_conf "[module]" "log_level = apdu" "log_file = $work/signet.log" "[card]" "management_key = $wrong"
check "a wrong configured key" "gen: CKR_FUNCTION_FAILED" "$(gen 05)"
check_match "the log names its source" \
	"refused the management key from \[card\] management_key in $work/signet.conf: nothing written" \
	"$(cat "$work/signet.log")"
check "nothing written to the card" "6A88" "$(card_metadata 82)"
card_conf "[module]" "log_level = apdu" "log_file = $work/signet.log" "[card]" "management_key = $k1"
check "the configured key" "gen: CKR_OK 05" "$(gen 05)"
check_match "the key is on the card" "^010111" "$(card_metadata 82)"

# ---- the PIN-protected store ----
set_key 0C "$k1" 03 "$k2"
as_admin 03 "$k2" "00DB3FFF0C5C035FFF0053058003810102" \
	"00DB3FFF235C035FC109531C881A8918$k2"
card_conf "[module]" "log_level = apdu" "log_file = $work/signet.log"
check "the key from the PIN-protected store" "gen: CKR_OK 06" "$(gen 06)"
card_conf "[module]" "log_level = apdu" "log_file = $work/signet.log" "[card]" "management_key = $wrong"
check "a configured key comes before the store" "gen: CKR_FUNCTION_FAILED" "$(gen 07)"
check "nothing written to the card" "6A88" "$(card_metadata 84)"

# ---- no key in the log ----
check_match "the log shows the APDUs" "GENERAL AUTHENTICATE|0087|00 87" "$(cat "$work/signet.log")"
for k in "$default" "$k1" "$k2" "$wrong"; do
	check_no_match "no key in the log" "$k|$(printf '%s' "$k" | tr A-F a-f)|$(printf '%s' "$k" | sed 's/../& /g; s/ $//')" \
		"$(tr -d '\n' < "$work/signet.log")"
done
