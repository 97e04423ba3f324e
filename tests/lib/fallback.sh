# Shell helpers for integration tests on the fallback token. Source it.
# fallback_setup DIR: a private SoftHSM token directory, signet configuration and
# counter store under DIR, exported through SIGNET_CONF.
top=${SIGNET_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${SIGNET_BUILD:-$top/build}
MODULE=$build/signet-pkcs11.so
SO_PIN=87654321
PIN=123456

# A client program, with the sanitizer runtime preloaded when the module is sanitized.
run_client() {
	if [ -n "${SIGNET_PRELOAD:-}" ]; then
		LD_PRELOAD="$SIGNET_PRELOAD" "$@"
	else
		"$@"
	fi
}

fallback_setup() {
	local dir=$1
	mkdir -p "$dir/tokens" "$dir/state"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" \
		> "$dir/softhsm2.conf"
	printf '[card]\nenable = no\n[softhsm]\nconfig = %s/softhsm2.conf\nstate_dir = %s/state\n' "$dir" "$dir" \
		> "$dir/signet.conf"
	export SIGNET_CONF=$dir/signet.conf
	unset SOFTHSM2_CONF
}

# fallback_token LABEL: initialise a token through signet and give it the user PIN $PIN.
fallback_token() {
	local label=$1
	run_client pkcs11-tool --module "$MODULE" --init-token --slot-index 0 --label "$label" --so-pin "$SO_PIN" >/dev/null
	run_client pkcs11-tool --module "$MODULE" --token-label "$label" --init-pin --login --login-type so \
		--so-pin "$SO_PIN" --new-pin 1111 >/dev/null
	run_client pkcs11-tool --module "$MODULE" --token-label "$label" --change-pin --pin 1111 --new-pin "$PIN" \
		>/dev/null 2>&1
}

fail() { echo "FAIL: $*" >&2; exit 1; }
