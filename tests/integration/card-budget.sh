#!/usr/bin/env bash
# The APDU budget of the card token (DESIGN.md, performance targets), counted by
# the simulator on the "default" card (P-256 key and certificate in 9A, RSA-2048
# in 9C with PIN policy "always"):
#   C_Initialize, C_GetSlotList, C_GetSlotInfo, C_GetSessionInfo: 0
#   the first C_GetTokenInfo: 3 (select, serial, PIN counter) for a card the
#     cache knows; a card seen for the first time also gives its firmware
#     version, which the cache then keeps: 4 (the label is the model and the
#     serial: no certificate is read for it)
#   C_GetTokenInfo polled: at most one PIN counter read per second
#   a cold listing of the two certificates with their values: 9 in all (the
#     four above; 9A and 9C by their certificates, 9D and 9E by GET METADATA,
#     the key history; DESIGN.md allows 10)
#   the same from a second process (cache valid): 3 in all
#   C_Login 1; C_Sign P-256 after login 1; the key confirmed once in C_SignInit
#   a PIN-always key: C_Login(CKU_CONTEXT_SPECIFIC) + C_Sign 2
#   a browser-like flow: 12 cold (the 9A key's metadata read once, for its
#     CKA_ALWAYS_AUTHENTICATE, also confirms it), 6 warm
#   a plain PIV card, never seen: first C_GetTokenInfo 4, its listing 5 more
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card
card_conf

apdus_at() { # n-th "apdus" line of $out
	printf '%s\n' "$out" | grep '^apdus:' | sed -n "${1}p"
}

# ---- cold: nothing cached ----
drive mark init apdus slots apdus slotinfo apdus token apdus token apdus open sessinfo apdus \
	find:cert attr:value find:pub find:priv apdus finalize
check "cold init" "apdus: CKR_OK 0" "$(apdus_at 1)"
check "cold slot list" "apdus: CKR_OK 0" "$(apdus_at 2)"
check "cold slot info" "apdus: CKR_OK 0" "$(apdus_at 3)"
check "cold first token info" "apdus: CKR_OK 4" "$(apdus_at 4)"
check "token info again within a second" "apdus: CKR_OK 0" "$(apdus_at 5)"
check "session info" "apdus: CKR_OK 0" "$(apdus_at 6)"
check_match "two certificates, two public keys, no private key before login" \
	"find: CKR_OK 2.*find: CKR_OK 2.*find: CKR_OK 0" "$(echo $out)"
total=$(printf '%s\n' "$out" | awk '/^apdus:/ { n += $3 } END { print n }')
check "cold listing in all" 9 "$total"
[ -s "$work/cache/card-$(card_serial).cache" ] || fail "no cache file written"

# ---- warm: a second process, cache valid ----
drive mark init slots token apdus finalize
check "warm first token info: no version asked" "apdus: CKR_OK 3" "$(apdus_at 1)"
drive mark init slots token open find:cert attr:value find:pub attr:label apdus finalize
check "warm listing in all" "apdus: CKR_OK 3" "$(apdus_at 1)"
check_match "warm listing shows the certificates" "find: CKR_OK 2.*attr: CKR_OK 30.*find: CKR_OK 2" "$(echo $out)"

drive init slots open mark login:user:"$SIGNET_TEST_PIN" apdus signinit:01:ECDSA apdus signonly apdus \
	signinit:01:ECDSA apdus signonly apdus finalize
check "login" "apdus: CKR_OK 1" "$(apdus_at 1)"
budget "first C_SignInit confirms the cached key" 1 "$(apdus_at 2)"
check "C_Sign P-256" "apdus: CKR_OK 1" "$(apdus_at 3)"
check "the key is confirmed once per login" "apdus: CKR_OK 0" "$(apdus_at 4)"
check "C_Sign P-256 again" "apdus: CKR_OK 1" "$(apdus_at 5)"
check_match "signatures verify" "signonly: CKR_OK verified.*signonly: CKR_OK verified" "$(echo $out)"

drive init slots open login:user:"$SIGNET_TEST_PIN" signinit:02:RSA-X-509 mark login:ctx:"$SIGNET_TEST_PIN" \
	signonly apdus finalize
check "PIN-always: VERIFY and sign" "apdus: CKR_OK 2" "$(apdus_at 1)"
check_match "PIN-always signature verifies" "signonly: CKR_OK verified" "$out"

# ---- polling: NSS asks for the token every few seconds, some hosts far more often ----
drive init slots open token mark poll:2500 apdus finalize
check_match "polling" "poll: CKR_OK polled" "$out"
budget "polling for 2.5 s" 3 "$(apdus_at 1)"

# ---- a browser-like flow ----
browser=(mark init slots token open find:cert attr:value find:pub attr:label find:priv login:user:"$SIGNET_TEST_PIN"
	find:priv attr:always_auth sign:01:ECDSA finalize apdus)
rm -rf "$work/cache"
drive "${browser[@]}"
check_match "cold browser flow signs" "sign: CKR_OK verified" "$out"
check "cold browser flow" "apdus: CKR_OK 12" "$(apdus_at 1)"
drive "${browser[@]}"
check_match "warm browser flow signs" "sign: CKR_OK verified" "$out"
check "warm browser flow" "apdus: CKR_OK 6" "$(apdus_at 1)"

# ---- what pkcs11-tool shows ----
serial=$(card_serial)
sig_p11 -L > "$work/list" 2>&1 || fail "pkcs11-tool -L: $(cat "$work/list")"
check_match "label: the model and the serial" "token label +: YubiKey PIV #$serial$" "$(cat "$work/list")"
check_match "firmware version" "firmware version +: 5\.7$" "$(cat "$work/list")"
check_match "manufacturer" "token manufacturer +: Yubico$" "$(cat "$work/list")"
check_match "serial" "serial num +: $serial$" "$(cat "$work/list")"
check_match "flags" "token flags +: login required, token initialized, PIN initialized$" "$(cat "$work/list")"
check_match "the empty reader" "Slot 1 \(0x1\): Signet Cardsim 00 01" "$(cat "$work/list")"
sig_p11 --login --pin "$SIGNET_TEST_PIN" -O > "$work/objects" 2>&1 || fail "pkcs11-tool -O: $(cat "$work/objects")"
check "three objects per key" 6 "$(grep -c '^  ID:' "$work/objects")"
check_match "9C wants the PIN for every signature" \
	"Access: +always authenticate, sensitive, always sensitive, never extractable, local" "$(cat "$work/objects")"

# ---- a plain PIV card (no YubiKey instructions): not asked for what only a YubiKey has ----
"$SIGNET_CARDSIM_CTL" restart --plain-piv
echo "$sel" | apdu > /dev/null # the new simulator's APDU counter starts from its state file: one APDU writes it
rm -rf "$work/cache"
drive mark init slots token apdus open find:cert attr:value find:pub apdus finalize
# select, GET SERIAL (refused), the CHUID for the serial, the PIN counter (empty VERIFY)
check "plain card, first token info" "apdus: CKR_OK 4" "$(apdus_at 1)"
# the four certificates (the keys are known from them) and the key history
check "plain card, listing" "apdus: CKR_OK 5" "$(apdus_at 2)"
check_match "plain card: its certificates and public keys" "find: CKR_OK 2.*find: CKR_OK 2" "$(echo $out)"
