# shellcheck shell=bash
# Shared start of tests/integration/transport-*.sh on the simulated card.
# Set top, source it, then call transport_need_card "$@".
#
#   transport_need_card ARGS...   re-run this script under tests/with-card unless
#                                 ARGS start with --inside; then set bin (the test
#                                 programs), t (the card's scratch directory), r (its
#                                 reader) and pin (its PIN)
#   fail MESSAGE                  print FAIL: MESSAGE and stop the script
#   wait_for FILE                 wait up to 15 s for FILE to exist, or fail
set -u
export SIGNET_BUILD=${SIGNET_BUILD:-$top/build}

transport_need_card() {
	if [ "${1:-}" != --inside ]; then
		exec "$top/tests/with-card" -- "$0" --inside
	fi
	# shellcheck disable=SC2034
	bin=$SIGNET_BUILD/tests t=$SIGNET_CARD_TMP r=$SIGNET_TEST_READER pin=$SIGNET_TEST_PIN
}

fail() { echo "FAIL: $*"; exit 1; }

wait_for() { # file
	for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "timed out waiting for $1"
}
