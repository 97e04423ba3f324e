#!/usr/bin/env bash
# C_CloseAllSessions and C_Finalize from a host's exit handlers, after the
# libraries' destructors ran (pdfsig through NSS does this): signet must not
# call into the SoftHSM being torn down. SoftHSM itself, driven the same way,
# is the control: it crashes (SoftHSMv2 issue 635), so the test can fail.
set -euo pipefail
. "$(dirname "$0")/../lib/fallback.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fallback_setup "$work"
fallback_token exiting

set +e
SIGNET_TEST_PIN=$PIN run_client "$build/tests/exit_finalize" "$MODULE" > "$work/signet.log" 2>&1
st=$?
SOFTHSM2_CONF=$work/softhsm2.conf SIGNET_TEST_PIN=$PIN run_client "$build/tests/exit_finalize" \
	/usr/lib/softhsm/libsofthsm2.so > "$work/softhsm.log" 2>&1
control=$?
set -e
cat "$work/signet.log"
[ $st = 0 ] || fail "signet: exit status $st"
grep -q "sessions open: 1" "$work/signet.log" || fail "no session was open"
grep -q "exit handler: finalized" "$work/signet.log" || fail "the exit handler did not finish"
echo "SoftHSM alone, same program: exit status $control"
[ $control != 0 ] || echo "note: SoftHSM survived its own exit-time finalize this time"
echo "exit-time finalize: ok"
