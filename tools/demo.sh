#!/usr/bin/env bash
# The main job on the embedded default, the SoftHSM fallback token:
# a token with an initial PIN that is then changed, an RSA-2048 and an EC P-256
# key, a self-signed certificate for each made through the module, signatures
# over a sample document verified with openssl, and the PIN lockout with the
# administrator's unblock; then the same journey with signet-tool, the token
# manager, on a second token; and, when the machine can run the simulated card
# (root: tests/with-card), the card's part with signet-tool. Everything lives
# under $SIGNET_BUILD/demo; running it again reuses the tokens.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SIGNET_BUILD:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
module=$build/signet-pkcs11.so
demo=${SIGNET_DEMO_DIR:-$build/demo}
label=signet-demo
so_pin=87654321
initial_pin=1111
pin=123456
wrong_pin=999999

# ---- the card's part, run by tests/with-card (see the end) ----
card_part() {
	local card=$demo/card w=$demo/card/work rc
	rm -rf "$card" && mkdir -p "$w" && chmod 700 "$card"
	cat > "$card/signet.conf" <<CONF
[module]
log_level = warning
cache_dir = $card/cache
[softhsm]
enable = no
state_dir = $card/state
CONF
	export SIGNET_CONF=$card/signet.conf
	cd "$w"
	printf '%s\n' "$SIGNET_TEST_PIN" > factory
	printf '%s\n' "$SIGNET_TEST_PUK" > puk
	printf '%s\n' 654321 > pin
	printf '%s\n' 24681357 > reset-pin
	printf '%s\n' 11223344 > wrong1
	printf '%s\n' 22334455 > wrong2
	printf '%s\n' 33445566 > wrong3
	chmod 600 factory puk pin reset-pin wrong1 wrong2 wrong3
	st() { "$build/signet-tool" "$@" </dev/null; }
	quiet() { grep -v '^signet\[' | sed 's/^/   /'; }

	echo "   a PIV card (a YubiKey, simulated) with its factory PIN: exact tries, and each key's slot"
	st status | grep -v "no token\|Cardsim 00 01" | quiet
	st change-pin --pin-file factory --new-pin-file pin 2>&1 | quiet

	echo "   sign with the 9C key (it asks for the PIN again for the signature), check with openssl"
	printf 'A document signed on the card at %s.\n' "$(date -u +%FT%TZ)" > document.txt
	st sign document.txt --id 9c --pin-file pin 2>&1 | quiet
	st export-cert --id 9c --out 9c.pem
	openssl x509 -in 9c.pem -pubkey -noout > 9c.pub
	openssl dgst -sha256 -verify 9c.pub -signature document.txt.sig document.txt | sed 's/^/   openssl: /'

	echo "   three wrong PINs: the count, the final-try guard, the lock"
	for i in 1 2; do st change-pin --pin-file wrong$i --new-pin-file pin 2>&1 | quiet || true; done
	st change-pin --pin-file wrong3 --new-pin-file pin 2>&1 | quiet || true
	st change-pin --pin-file wrong3 --new-pin-file pin --force 2>&1 | quiet || true
	st status | grep 'PIN:' | head -2 | quiet
	echo "   the PUK unblocks it; the owner then changes the PIN the administrator set"
	st unblock --admin-pin-file puk --new-pin-file reset-pin 2>&1 | quiet
	st change-pin --pin-file reset-pin --new-pin-file pin 2>&1 | quiet
	st status | grep 'PIN:' | head -2 | quiet

	echo "   a new key made on the card in 9E, its request, a test CA's certificate for it, a signature"
	st keygen --type p256 --id 9e --label card-key --pin-file pin 2>&1 | quiet
	st csr --id 9e --subject "/CN=Card User/O=signet demo" --out card.csr --pin-file pin 2>&1 | quiet
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
		-subj "/CN=signet demo CA" -days 30 2>/dev/null
	openssl x509 -req -in card.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -out card.pem 2>/dev/null
	st import-cert card.pem --pin-file pin 2>&1 | quiet
	st status | grep -A1 'slot 9E' | quiet
	st sign document.txt --id 9e --pin-file pin --out document.9e.sig 2>&1 | quiet
	openssl x509 -in card.pem -pubkey -noout > card.pub
	openssl dgst -sha256 -verify card.pub -signature document.9e.sig document.txt | sed 's/^/   openssl: /'
}

step=0
say() { step=$((step + 1)); printf '\n\033[1m== %d. %s\033[0m\n' "$step" "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
die() { printf '\n\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }
trap 'die "a command failed (line $LINENO)"' ERR
if [ "${1:-}" = --card-part ]; then
	card_part
	exit 0
fi

mkdir -p "$demo/tokens" "$demo/state" "$demo/work"
chmod 700 "$demo"
cat > "$demo/softhsm2.conf" <<CONF
directories.tokendir = $demo/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
cat > "$demo/signet.conf" <<CONF
[module]
log_level = warning
[card]
enable = no
[softhsm]
config = $demo/softhsm2.conf
state_dir = $demo/state
CONF
export SIGNET_CONF=$demo/signet.conf
unset SOFTHSM2_CONF
w=$demo/work

p11() { pkcs11-tool --module "$module" "$@"; }
tok() { p11 --token-label "$label" "$@"; }
flags() { p11 -L 2>/dev/null | awk -v l="$label" '/token label/ { on = ($0 ~ l) } on && /token flags/ { sub(/^ *token flags *: */, ""); print; exit }'; }

say "The module"
p11 -I | sed 's/^/   /'

say "A fallback token (created once) with an initial PIN that must be changed"
if p11 -L 2>/dev/null | grep -q "token label *: *$label"; then
	ok "token '$label' exists already"
else
	p11 --init-token --slot-index 0 --label "$label" --so-pin "$so_pin" >/dev/null
	tok --init-pin --login --login-type so --so-pin "$so_pin" --new-pin "$initial_pin" >/dev/null
	ok "token initialised; the administrator set the user PIN"
	echo "   flags: $(flags)"
	flags | grep -q "user PIN to be changed" || die "the initial PIN is not marked to be changed"
	tok --change-pin --pin "$initial_pin" --new-pin "$pin" >/dev/null
	ok "user changed the initial PIN"
fi
echo "   flags: $(flags)"

say "Keys: RSA-2048 and EC P-256, generated on the token"
for k in rsa:rsa:2048:01 ec:EC:prime256v1:02; do
	IFS=: read -r name type size id <<<"$k"
	if tok --login --pin "$pin" --list-objects --type privkey 2>/dev/null | grep -q "label: *demo-$name\$"; then
		ok "demo-$name exists already"
	else
		tok --login --pin "$pin" --keypairgen --key-type "$type:$size" --id "$id" --label "demo-$name" \
			--usage-sign >/dev/null
		ok "generated demo-$name (id $id)"
	fi
done

say "Self-signed certificates, signed through the module (OpenSSL + libp11)"
for k in rsa:01 ec:02; do
	name=${k%:*}; id=${k#*:}
	PKCS11_MODULE_PATH=$module openssl req -new -x509 -days 365 -engine pkcs11 -keyform engine \
		-key "pkcs11:token=$label;object=demo-$name;type=private?pin-value=$pin" \
		-subj "/CN=signet demo $name" -out "$w/$name.pem" 2>"$w/req-$name.log" ||
		{ cat "$w/req-$name.log"; die "openssl req failed for demo-$name"; }
	openssl x509 -in "$w/$name.pem" -noout -subject | sed 's/^/   /'
	openssl verify -CAfile "$w/$name.pem" "$w/$name.pem" | sed 's/^/   /'
	openssl x509 -in "$w/$name.pem" -outform DER -out "$w/$name.der"
	tok --login --pin "$pin" --delete-object --type cert --id "$id" >/dev/null 2>&1 || true
	tok --login --pin "$pin" --write-object "$w/$name.der" --type cert --id "$id" --label "demo-$name" >/dev/null
	openssl x509 -in "$w/$name.pem" -pubkey -noout > "$w/$name.pub"
	ok "certificate for demo-$name stored on the token"
done

say "Signing a document through the module, verifying with openssl"
printf 'A document to sign, made at %s.\n' "$(date -u +%FT%TZ)" > "$w/document.txt"
openssl dgst -sha256 -binary "$w/document.txt" > "$w/document.sha256"
tok --login --pin "$pin" --sign --id 01 -m SHA256-RSA-PKCS -i "$w/document.txt" -o "$w/rsa.sig" 2>/dev/null
openssl dgst -sha256 -verify "$w/rsa.pub" -signature "$w/rsa.sig" "$w/document.txt" | sed 's/^/   RSA PKCS#1 v1.5: /'
tok --login --pin "$pin" --sign --id 01 -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
	-i "$w/document.sha256" -o "$w/pss.sig" 2>/dev/null
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "$w/rsa.pub" \
	-signature "$w/pss.sig" "$w/document.txt" | sed 's/^/   RSA-PSS: /'
tok --login --pin "$pin" --sign --id 02 -m ECDSA-SHA256 --signature-format openssl -i "$w/document.txt" \
	-o "$w/ec.sig" 2>/dev/null
openssl dgst -sha256 -verify "$w/ec.pub" -signature "$w/ec.sig" "$w/document.txt" | sed 's/^/   ECDSA P-256: /'

say "Lockout: three wrong PINs"
for i in 1 2 3; do
	out=$(tok --login --pin "$wrong_pin" --list-objects 2>&1 || true)
	echo "   try $i: $(grep -o 'CKR_[A-Z_]*' <<<"$out" | head -1)   flags: $(flags)"
done
flags | grep -q "user PIN locked" || die "the user PIN did not lock"
out=$(tok --login --pin "$pin" --list-objects 2>&1 || true)
grep -q CKR_PIN_LOCKED <<<"$out" || die "the right PIN was accepted on a locked token"
ok "even the right PIN is refused now: CKR_PIN_LOCKED, and nothing reached the token"

say "The administrator unblocks the user PIN"
tok --init-pin --login --login-type so --so-pin "$so_pin" --new-pin "$initial_pin" >/dev/null
echo "   flags: $(flags)"
tok --change-pin --pin "$initial_pin" --new-pin "$pin" >/dev/null
ok "user PIN unblocked and changed again by its owner"
echo "   flags: $(flags)"
tok --login --pin "$pin" --sign --id 02 -m ECDSA-SHA256 --signature-format openssl -i "$w/document.txt" \
	-o "$w/ec2.sig" 2>/dev/null
openssl dgst -sha256 -verify "$w/ec.pub" -signature "$w/ec2.sig" "$w/document.txt" | sed 's/^/   signing again: /'

# ---- the same journey with signet-tool, the token manager ----
tool_label=tool-demo
st() { "$build/signet-tool" --token "$tool_label" "$@" </dev/null; }
mkdir -p "$w/tool"
cd "$w/tool"
printf '%s\n' "$so_pin" > admin
printf '%s\n' "$initial_pin" > initial
printf '%s\n' "$pin" > pin
printf '%s\n' "$wrong_pin" > wrong
chmod 600 admin initial pin wrong
# the module's own warnings about wrong PINs repeat what signet-tool says
quiet() { grep -v '^signet\[' | sed 's/^/   /'; }

say "signet-tool: a token for the token manager's journey"
if st status >/dev/null 2>&1; then
	st init --label "$tool_label" --yes --admin-pin-file admin --new-pin-file initial 2>&1 | quiet
else
	"$build/signet-tool" init --label "$tool_label" --admin-pin-file admin --new-pin-file initial </dev/null | quiet
fi
st status | quiet

say "signet-tool: change the initial PIN, generate a key and a certificate request"
st change-pin --pin-file initial --new-pin-file pin | quiet
st keygen --type p256 --label signing --pin-file pin | quiet
st csr --label signing --subject "/CN=Demo User/O=signet demo" --out request.csr --pin-file pin 2>&1 | quiet
openssl req -in request.csr -noout -subject | quiet

say "signet-tool: a test CA issues the certificate, and it goes on the token"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=signet demo CA" -days 30 2>/dev/null
openssl x509 -req -in request.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -out certificate.pem 2>/dev/null
st import-cert certificate.pem --pin-file pin | quiet
st status | quiet

say "signet-tool: sign a document (CMS) and verify it, with signet-tool and with openssl"
printf 'A document signed with signet-tool at %s.\n' "$(date -u +%FT%TZ)" > document.txt
st sign document.txt --cms --pin-file pin 2>&1 | quiet
st verify document.txt --cms --ca ca.pem | quiet
openssl cms -verify -binary -inform DER -in document.txt.p7s -content document.txt -CAfile ca.pem -purpose any \
	-out /dev/null 2>&1 | sed 's/^/   openssl: /'

say "signet-tool: three wrong PINs, the final-try guard, the lock, and the unblock"
for i in 1 2; do
	st change-pin --pin-file wrong --new-pin-file pin 2>&1 | quiet || true
done
st change-pin --pin-file wrong --new-pin-file pin > final.log 2>&1 && rc=0 || rc=$?
quiet < final.log
[ "$rc" = 10 ] || die "the final try was not guarded (exit $rc)"
ok "without a terminal to ask on, the last try needs --force (exit status 10)"
st change-pin --pin-file wrong --new-pin-file pin --force 2>&1 | quiet || true
st status | grep 'PIN' | quiet
st unblock --admin-pin-file admin --new-pin-file initial | quiet
st change-pin --pin-file initial --new-pin-file pin | quiet
st status | grep 'PIN' | quiet

say "signet-tool on the simulated card"
if [ "$(id -u)" = 0 ]; then
	# tests/with-card runs a private pcscd and the PIV card simulator, then the card part below
	# (signet-tool carries its own sanitizer runtime; the daemon and the simulator need none preloaded)
	env -u LD_PRELOAD "$top/tests/with-card" -- "$top/tools/demo.sh" --card-part
else
	echo "   skipped: the simulated card needs root (a private pcscd in its own mount namespace);"
	echo "   run make demo as root to see signet-tool on a card"
fi

printf '\n\033[32mdemo complete.\033[0m Token files: %s\n' "$demo"
