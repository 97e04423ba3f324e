#!/usr/bin/env bash
# The service side without cards: no pcscd at all (service unavailable),
# then a pcscd of our own with no readers (an empty list, not an error),
# polling with nothing to report, and connecting to a reader that does
# not exist. The pcscd runs in a private mount namespace with its own
# /run/pcscd, so no other pcscd on the machine is seen or touched; it is
# stopped by the PID we started.
set -u

if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: needs root for a private mount namespace"; exit 1; }
	exec unshare -m --propagation private "$0" --inside
fi

top=${SIGNET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SIGNET_BUILD:-$top/build}/tests
t=$(mktemp -d /tmp/signet-noreaders.XXXXXX)
pcscd_pid=

fail() { echo "FAIL: $*"; exit 1; }

cleanup() {
	if [ -n "$pcscd_pid" ]; then
		kill "$pcscd_pid" 2>/dev/null
		wait "$pcscd_pid" 2>/dev/null
	fi
	umount /run/pcscd 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT

mkdir -p /run/pcscd && mount -t tmpfs -o mode=0755 tmpfs /run/pcscd || fail "cannot mount a private /run/pcscd"
mkdir "$t/reader.conf.d"

"$bin/pcsc_piv" - readers poll:0 > "$t/out1" 2>&1
cat > "$t/want1" <<EOF
readers: smart-card service unavailable
poll: smart-card service unavailable
EOF
diff -u "$t/want1" "$t/out1" || fail "without pcscd"

pcscd -f -c "$t/reader.conf.d" > "$t/pcscd.log" 2>&1 < /dev/null &
pcscd_pid=$!
for _ in $(seq 100); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.05; done
[ -S /run/pcscd/pcscd.comm ] || fail "pcscd did not start: $(cat "$t/pcscd.log")"

"$bin/pcsc_piv" - readers poll:0 poll:200 > "$t/out2" 2>&1
cat > "$t/want2" <<EOF
readers: 0
poll: 1
poll: 0
EOF
diff -u "$t/want2" "$t/out2" || fail "with an empty pcscd"

"$bin/pcsc_piv" "No Such Reader 00 00" select > "$t/out3" 2>&1
echo "connect: reader unavailable" > "$t/want3"
diff -u "$t/want3" "$t/out3" || fail "connecting to a missing reader"
echo "PASS transport-noreaders"
