#!/usr/bin/env bash
# The rooms are enforced by the link: the core archive (apdu/ + crypto/)
# neither holds nor needs anything of pkcs11/, and the programs built on it
# (the card simulator, signet-tool, the test helpers) contain no pkcs11/ code.
# The module archive, which does hold pkcs11/, is the control that shows the
# comparison can see pkcs11/ symbols at all.
set -euo pipefail
build=${SIGNET_BUILD:-build}
top=${SIGNET_TOP:-.}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
failed=0 passed=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
global_defined() { nm -g --defined-only "$@" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }
# The pkcs11/ symbols among the lines of file $1 (empty output: none).
p11_in() { comm -12 "$1" "$work/p11"; }
none_of_p11() { # file of symbols, label
	local hits
	hits=$(p11_in "$1")
	[ -z "$hits" ] || { echo "$2 has pkcs11/ symbols:" $hits; return 1; }
}

shopt -s nullglob
objs=("$build"/obj/pkcs11/*.o)
[ ${#objs[@]} -gt 0 ] || { echo "no objects in $build/obj/pkcs11: build first"; exit 1; }
global_defined "${objs[@]}" > "$work/p11"
check "pkcs11/ objects define symbols" test -s "$work/p11"

global_defined "$build/libsignet-module.a" > "$work/module"
check "control: the module archive holds pkcs11/ symbols" test -n "$(p11_in "$work/module")"

global_defined "$build/libsignet-core.a" > "$work/core-def"
check "the core archive holds no pkcs11/ code" none_of_p11 "$work/core-def" libsignet-core.a
nm -u "$build/libsignet-core.a" | awk '{ print $NF }' | sort -u > "$work/core-undef"
check "the core archive calls nothing in pkcs11/" none_of_p11 "$work/core-undef" libsignet-core.a

# Within pkcs11/: no file calls, directly or through others, into one that calls it back.
check "no call circle among pkcs11/ files" python3 "$top/tests/lib/call_cycles.py" -g card -g softhsm "${objs[@]}"
# Drivers see the core only through pkcs11/slot.h (and token.h), never its tables.
driver_includes() {
	! grep -l '#include "pkcs11/\(core\|slots\|session\|handle\|op\|mech\)\.h"' "$top"/pkcs11/softhsm*.c "$top"/pkcs11/card*.c 2>/dev/null
}
check "drivers include no core table header" driver_includes

bins=("$build/signet-cardsim")
[ -z "$(echo "$top"/tools/*.c)" ] || bins+=("$build/signet-tool")
for h in "$top"/tests/helpers/*.c; do bins+=("$build/tests/$(basename "$h" .c)"); done
for bin in "${bins[@]}"; do
	check "$(basename "$bin") is built" test -x "$bin"
	global_defined "$bin" > "$work/bin"
	check "$(basename "$bin") contains no pkcs11/ code" none_of_p11 "$work/bin" "$bin"
done

echo "$passed passed, $failed failed"
[ $failed = 0 ]
