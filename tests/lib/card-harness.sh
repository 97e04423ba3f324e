# shellcheck shell=bash
# Shared functions for tests/integration/cardsim-*.sh (source it, then call need_card).
#
#   need_card [with-card options]   re-run this script under tests/with-card unless
#                                   it already runs there (SIGNET_TEST_READER set)
#   check NAME EXPECTED ACTUAL      exact comparison
#   check_match NAME REGEX ACTUAL   extended regular expression (grep -E)
#   check_rc NAME RC CMD...         runs CMD, compares its exit status; output in $out
#   piv ARGS...                     yubico-piv-tool on the simulated card's reader
#   apdu HEX...                     raw APDUs; one hex response (data + SW) per line
#   piv_apdu HEX...                 the same after a SELECT of PIV on that connection
#                                   (whose response is not printed)
#   open_card [READER]              one PC/SC connection kept open (a coprocess), so the
#                                   card's state lasts between the APDUs sent on it
#   send HEX                        one APDU on that connection; the response in $reply
#   close_card                      end that connection
#   p11 ARGS...                     pkcs11-tool with OpenSC's PKCS#11 module
#   apdu_count                      APDUs the card has processed since it started
#   running PID                     whether the process runs (a zombie does not: what
#                                   with-card starts is reaped late by the machine's init)
#   sel                             SELECT of the PIV AID (the RID, as yubico-piv-tool
#                                   sends it); a card selects nothing at power-on
# The script stops at the first failed check with a message naming it.
set -u

harness_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIGNET_TOP=${SIGNET_TOP:-$harness_top}
SIGNET_BUILD=${SIGNET_BUILD:-$SIGNET_TOP/build}
OPENSC_MODULE=${OPENSC_MODULE:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
checks=0

need_card() {
	if [ -z "${SIGNET_TEST_READER:-}" ]; then
		exec "$SIGNET_TOP/tests/with-card" "$@" -- "$0"
	fi
	# A scratch directory for the test, removed with the card's directory.
	# shellcheck disable=SC2034
	work=$(mktemp -d "$SIGNET_CARD_TMP/test.XXXXXX")
	trap 'echo "$checks checks passed"' EXIT
}

fail() {
	echo "FAIL: $*" >&2
	trap - EXIT
	exit 1
}

check() { # name expected actual
	[ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
	checks=$((checks + 1))
}

check_match() { # name regex actual
	printf '%s\n' "$3" | grep -Eq -- "$2" || fail "$1: [$3] does not match /$2/"
	checks=$((checks + 1))
}

check_no_match() { # name regex actual
	printf '%s\n' "$3" | grep -Eq -- "$2" && fail "$1: [$3] matches /$2/"
	checks=$((checks + 1))
}

check_rc() { # name expected-rc cmd...
	local name=$1 want=$2 rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] || fail "$name: exit status $rc, expected $want; output: $out"
	checks=$((checks + 1))
}

piv() {
	yubico-piv-tool -r "$SIGNET_TEST_READER" "$@"
}

apdu() {
	"$SIGNET_CARDSIM_BIN" --apdu "$SIGNET_TEST_READER" "$@"
}

piv_apdu() {
	apdu "$sel" "$@" | tail -n +2
}

p11() {
	pkcs11-tool --module "$OPENSC_MODULE" "$@"
}

apdu_count() {
	"$SIGNET_CARDSIM_CTL" count
}

running() { # pid
	[ -n "$(ps -o stat= -p "$1" 2> /dev/null | grep -v '^Z')" ]
}

# shellcheck disable=SC2034
sel=00A4040005A000000308

open_card() { # [reader]
	coproc CARD { "$SIGNET_CARDSIM_BIN" --apdu "${1:-$SIGNET_TEST_READER}"; }
	# bash unsets CARD_PID as soon as the coprocess ends: keep a copy.
	card_pid=$CARD_PID
}

send() { # hex-apdu -> $reply
	echo "$1" >&"${CARD[1]}"
	read -r -t 30 reply <&"${CARD[0]}" || fail "no reply to $1 within 30 s"
}

close_card() {
	eval "exec ${CARD[1]}>&-"
	wait "$card_pid" 2> /dev/null || true
}
