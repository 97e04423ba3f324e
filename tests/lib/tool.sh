# Shell helpers for the signet-tool integration tests (tests/integration/tool-*.sh). Source it.
# tool_setup: a private fallback token directory (tests/lib/fallback.sh) and the PIN files.
# tool_token LABEL: a token with its PIN changed, ready for keys.
# tool ARGS...: runs build/signet-tool with no terminal; its output goes to $out and $err,
#   its exit status to $rc (the test goes on either way), and everything it printed is kept
#   so that tool_no_secrets_shown can check no PIN was ever printed.
. "$(dirname "${BASH_SOURCE[0]}")/fallback.sh"
TOOL=$build/signet-tool
PTY_DRIVE=$top/tests/lib/pty-drive.py
# Unusual values, so that finding one in an output or a command line means a leak.
T_ADMIN=58203716
T_INITIAL=4862
T_PIN=735194
T_PIN2=604417
T_WRONG=991133
T_P12_PASSWORD=p12-secret-8813

tool_setup() {
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	fallback_setup "$work"
	export SIGNET_MODULE=$MODULE
	seen=$work/seen-output
	: > "$seen"
	for name in ADMIN INITIAL PIN PIN2 WRONG P12_PASSWORD; do
		local var=T_$name
		printf '%s\n' "${!var}" > "$work/$(tr 'A-Z_' 'a-z-' <<<"$name")"
	done
	chmod 600 "$work"/admin "$work"/initial "$work"/pin "$work"/pin2 "$work"/wrong "$work"/p12-password
}

# signet-tool and the module are ours: a sanitized build checks them for leaks too (run-tests
# turns that off for the foreign programs of the other tests).
export ASAN_OPTIONS=detect_leaks=1

# Runs a command and keeps its output in $out / $err and its status in $rc.
capture() {
	set +e
	"$@" >"$work/out" 2>"$work/err"
	rc=$?
	set -e
	out=$(cat "$work/out")
	err=$(cat "$work/err")
	cat "$work/out" "$work/err" >> "$seen"
}

tool() {
	capture "$TOOL" "$@" </dev/null
}

# expect_rc N WHAT: the last tool run exited with N.
expect_rc() {
	[ "$rc" = "$1" ] || fail "$2: exit status $rc, expected $1; stdout: $out; stderr: $err"
	echo "ok $2 (exit $rc)"
}

# expect_in TEXT WHERE WHAT: the last run's stdout (out) or stderr (err) contains TEXT.
expect_in() {
	local where=${!2}
	grep -qF -- "$1" <<<"$where" || fail "$3: no \"$1\" in $2: $where"
}

# json_get EXPR: evaluates a Python expression on the last stdout parsed as JSON (as j).
json_get() {
	python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$out" ||
		fail "stdout is not the JSON expected: $out"
}

# pty_run ARGS... with the script on stdin: signet-tool on a terminal (tests/lib/pty-drive.py).
pty_run() {
	capture python3 "$PTY_DRIVE" --timeout 20 -- "$TOOL" "$@"
}

# tool_token LABEL: a software token made with signet-tool, its initial PIN changed to $T_PIN.
tool_token() {
	tool init --label "$1" --admin-pin-file admin --new-pin-file initial
	expect_rc 0 "init $1"
	tool change-pin --pin-file initial --new-pin-file pin
	expect_rc 0 "change-pin"
}

tool_no_secrets_shown() {
	local v
	for v in "$T_ADMIN" "$T_INITIAL" "$T_PIN" "$T_PIN2" "$T_WRONG" "$T_P12_PASSWORD"; do
		! grep -qF -- "$v" "$seen" || fail "a PIN or password was printed: $(grep -F -- "$v" "$seen" | head -3)"
	done
	echo "ok no PIN or password in anything signet-tool printed"
}
