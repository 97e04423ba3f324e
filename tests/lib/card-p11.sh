# shellcheck shell=bash
# The card tests' view of signet (source after card-harness.sh, then call need_card):
#
#   card_conf [LINES...]      write $work/signet.conf (card slots only, cache and state in
#                             $work, require_pin_change = no unless LINES say otherwise;
#                             later lines win) and export SIGNET_CONF
#   drive STEP...             build/tests/p11_card on signet; its output in $out
#   expect NAME STEP...       drive, then compare $out with the lines on stdin
#   budget NAME MAX OUTPUT    the "apdus: CKR_OK N" line of OUTPUT shows N <= MAX
#   sig_p11 ARGS...           pkcs11-tool with signet
#   card_serial               the simulated card's serial number
#   drive_bg FILE STEP...     drive in the background, output in FILE, PID in $bg
#   wait_for FILE             wait up to 30 s for FILE
#   same_as NAME FILE         FILE holds exactly the lines on stdin
#   both_variants [OPTS...]   outside with-card: run this script under it twice, with
#                             extended-length APDUs ($variant extended) and without (short)
#   card_metadata SLOT        GET METADATA of a slot, as another program sees it
# shellcheck disable=SC2154
module=$SIGNET_BUILD/signet-pkcs11.so
# run_client: the sanitizer runtime for foreign programs loading a sanitized module
. "$(dirname "${BASH_SOURCE[0]}")/fallback.sh"

card_conf() {
	{
		echo "[module]"
		echo "log_level = warning"
		echo "cache_dir = $work/cache"
		echo "[softhsm]"
		echo "enable = no"
		echo "state_dir = $work/state"
		echo "[policy]"
		echo "require_pin_change = no"
		for line in "$@"; do echo "$line"; done
	} > "$work/signet.conf"
	export SIGNET_CONF=$work/signet.conf
}

drive() {
	out=$("$SIGNET_BUILD/tests/p11_card" "$module" "$@" 2> "$work/drive.err") ||
		fail "p11_card $*: exit status $?: $(tail -n 30 "$work/drive.err")"
}

expect() { # name steps... ; expected lines on stdin
	local name=$1 want
	shift
	want=$(cat)
	drive "$@"
	[ "$out" = "$want" ] || fail "$name: output differs:
$(diff <(echo "$want") <(echo "$out"))
stderr: $(tail -n 20 "$work/drive.err")"
	checks=$((checks + 1))
}

budget() { # name max "apdus: CKR_OK N"
	local n=${3##* }
	[ -n "$n" ] && [ "$n" -le "$2" ] || fail "$1: $n APDUs, budget $2"
	echo "budget $1: $n of $2"
	checks=$((checks + 1))
}

sig_p11() {
	run_client pkcs11-tool --module "$module" "$@"
}

card_serial() {
	piv -a status 2> /dev/null | sed -n 's/^Serial Number:[[:space:]]*//p'
}

# drive_bg FILE STEP...: p11_card in the background, its output in FILE; its PID in $bg
drive_bg() {
	local file=$1
	shift
	"$SIGNET_BUILD/tests/p11_card" "$module" "$@" \
		> "$file" 2> "$file.err" &
	bg=$!
}

# wait_for FILE: up to 30 s for FILE to exist, else the test fails
wait_for() {
	for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "timed out waiting for $1"
}

# same_as NAME FILE: FILE holds exactly the lines on stdin
same_as() {
	local want
	want=$(cat)
	[ "$(cat "$2")" = "$want" ] || fail "$1: output differs:
$(diff <(echo "$want") "$2")
stderr: $(tail -n 20 "$2.err")"
	checks=$((checks + 1))
}

# both_variants [with-card options]: run the calling script twice under tests/with-card, with
# extended-length APDUs ($variant "extended") and with a card that refuses them ("short"); then
# need_card
both_variants() {
	if [ -z "${SIGNET_TEST_READER:-}" ]; then
		SIGNET_VARIANT=extended "$SIGNET_TOP/tests/with-card" "$@" -- "$0" || exit 1
		SIGNET_VARIANT=short exec "$SIGNET_TOP/tests/with-card" "$@" --no-extended -- "$0"
	fi
	variant=${SIGNET_VARIANT:-extended}
	echo "variant: $variant"
	need_card
}

# card_metadata SLOT: the card's GET METADATA answer for a slot (hex), as another program sees it
card_metadata() { piv_apdu "00F700$1" | tail -n 1; }

# raw_public KEYFILE: the 32 bytes of an Ed25519 or X25519 key's public key, lower-case hex
raw_public() { openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n'; }
