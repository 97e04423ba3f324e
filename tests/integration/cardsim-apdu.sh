#!/usr/bin/env bash
# The simulator at the APDU level, through pcscd and vpcd: SELECT, malformed
# APDUs, chaining, 61xx/GET RESPONSE, extended length, management-key
# authentication (3DES mutual, AES one-way), metadata, PIN policy "always",
# Ed25519 and ECDH, the APDU counter and fault injection.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card

mgmt=$SIGNET_TEST_MGMT_KEY
hex() { od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }
unhex() { xxd -r -p; }
pin_block=313233343536FFFF

ecb() { # mode(-e/-d) cipher key hex
	printf '%s' "$4" | unhex | openssl enc "$1" "-$2" -K "$3" -nopad | hex
}
mgmt_auth_3des() { # mutual authentication with the default 3DES key
	local witness r host expect
	send 0087039B047C028000
	check_match "witness" '^7C0A8008[0-9A-F]{16}9000$' "$reply"
	witness=${reply:8:16}
	r=$(ecb -d des-ede3 "$mgmt" "$witness")
	host=$(head -c 8 /dev/urandom | hex)
	send "0087039B16""7C14""8008$r""8108$host"
	expect=$(ecb -e des-ede3 "$mgmt" "$host")
	check "card's mutual answer" "7C0A8208${expect}9000" "$reply"
}

# SELECT: RID, OpenSC's 9-byte AID, the full AID with Le; YubiKey's answer.
apt=61114F0600001000010079074F05A0000003089000
check "SELECT RID" "$apt" "$(apdu $sel)"
check "SELECT 9-byte AID" "$apt" "$(apdu 00A4040009A00000030800001000)"
check "SELECT full AID, Le" "$apt" "$(apdu 00A404000BA00000030800001000010000)"
check "SELECT another AID" "6A82" "$(apdu 00A4040008A000000527471117)"
check "GET VERSION" "0507029000" "$(piv_apdu 00FD0000)"
serial=$(sed -n 's/^serial //p' "$SIGNET_CARDSIM_STATE")
check "GET SERIAL" "$(printf '%08X' "$serial")9000" "$(piv_apdu 00F8000000)"
check "discovery object" "7E124F0BA0000003080000100001005F2F0240009000" "$(piv_apdu 00CB3FFF035C017E00)"

# Malformed APDUs get status words, never a crash.
check "2-byte APDU" "6700" "$(piv_apdu 00CB)"
check "3-byte APDU" "6700" "$(piv_apdu 00CB3F)"
check "Lc longer than data" "6700" "$(piv_apdu 00CB3FFF055C035F)"
check "data longer than Lc+Le" "6700" "$(piv_apdu 00CB3FFF025C035FC10200)"
check "extended marker only" "6700" "$(piv_apdu 00CB3FFF0000)"
check "extended Lc longer than data" "6700" "$(piv_apdu 00CB3FFF0000055C03)"
check "unknown CLA" "6E00" "$(piv_apdu 80CB3FFF055C035FC102)"
check "unknown INS" "6D00" "$(piv_apdu 0012000000)"
check "GET DATA bad P1P2" "6A86" "$(piv_apdu 00CB3FF0055C035FC102)"
check "GET DATA tag list overruns" "6A80" "$(piv_apdu 00CB3FFF055C045FC102)"
check "GET DATA no tag list" "6A80" "$(piv_apdu 00CB3FFF035301AA)"
check "GET DATA unknown object" "6A82" "$(piv_apdu 00CB3FFF055C035FC1FF)"
check "GET DATA PIN-protected" "6982" "$(piv_apdu 00CB3FFF055C035FC109)"
check "GA truncated template" "6A80" "$(piv_apdu 00870A9A037C0582)"
check "GA length too large" "6A80" "$(piv_apdu 0087119A077C8400FFFFFF82)"
check "GA empty slot" "6A88" "$(piv_apdu 00871182047C028200)"
check "GA wrong algorithm for 9a" "6A80" "$(piv_apdu 0087079A047C028200)"
check "GENERATE without management key" "6982" "$(piv_apdu 0047009A05AC03800111)"
check "PUT DATA without management key" "6982" "$(piv_apdu 00DB3FFF095C035FC1095302AABB)"
check "VERIFY with 7 bytes" "6A80" "$(piv_apdu 002000800731323334353637)"
check "VERIFY PUK reference" "6A88" "$(piv_apdu 0020008108$pin_block)"
check "GET RESPONSE with nothing pending" "6985" "$(piv_apdu 00C0000000)"
check "reset refused" "6985" "$(piv_apdu 00FB0000)"
check "PIN status after all that" "63C3" "$(piv_apdu 0020008000)"

# Responses over 256 bytes come in 61xx pieces; GET RESPONSE fetches the rest.
mapfile -t parts < <(piv_apdu 00CB3FFF055C035FC10A00 00C0000000 00C0000000 00C0000000)
check_match "first piece" '^5382[0-9A-F]{508}61[0-9A-F]{2}$' "${parts[0]}"
whole=${parts[0]%????}${parts[1]%????}${parts[2]%????}
check "last piece ends 9000" "9000" "${parts[2]: -4}"
check "no more pieces" "6985" "${parts[3]}"
check "reassembled object has its declared length" $(( (4 + 0x${whole:4:4}) * 2 )) "${#whole}"
check "extended Le: whole object at once" "${whole}9000" "$(piv_apdu 00CB3FFF0000055C035FC10A0000)"

# Management key: 3DES mutual authentication, then chained PUT DATA.
open_card
send $sel
mgmt_auth_3des
object=$(head -c 1000 /dev/urandom | hex)
body="5C035FC10D""538203E8$object"
while [ ${#body} -gt 510 ]; do
	send "10DB3FFFFF${body:0:510}"
	check "chain fragment" "9000" "$reply"
	body=${body:510}
done
send "00DB3FFF$(printf '%02X' $((${#body} / 2)))$body"
check "chained PUT DATA" "9000" "$reply"
send "00CB3FFF055C035FC10D00"
stored=${reply%????}
while [ "${reply:${#reply}-4:2}" = 61 ]; do
	send 00C0000000
	stored=$stored${reply%????}
done
check "last status" "9000" "${reply: -4}"
check "object read back" "538203E8$object" "$stored"
send 00DB3FFF075C035FC10D5300
check "delete with 53 00" "9000" "$reply"
send 00CB3FFF055C035FC10D00
check "deleted object" "6A82" "$reply"

# GENERATE Ed25519 in retired slot 82 with PIN policy never; sign raw data.
send 0047008208AC068001E0AA0101
check_match "Ed25519 public key" '^7F49228620[0-9A-F]{64}9000$' "$reply"
edpub=${reply:10:64}
send 00F7008200
check "metadata 82" "0101E00202010103010104228620${edpub}9000" "$reply"
msg=$(printf 'raw message for ed25519' | hex)
send "0087E082$(printf '%02X' $(( ${#msg} / 2 + 6 )))7C$(printf '%02X' $(( ${#msg} / 2 + 4 )))820081$(printf '%02X' $(( ${#msg} / 2 )))$msg"
check_match "Ed25519 signature" '^7C428240[0-9A-F]{128}9000$' "$reply"
printf '302a300506032b6570032100%s' "$edpub" | unhex > "$work/ed.der"
openssl pkey -pubin -inform DER -in "$work/ed.der" -out "$work/ed.pem" || fail "Ed25519 key"
printf '%s' "${reply:8:128}" | unhex > "$work/ed.sig"
printf 'raw message for ed25519' > "$work/ed.msg"
check_rc "openssl verifies Ed25519" 0 openssl pkeyutl -verify -pubin -inkey "$work/ed.pem" -rawin \
	-in "$work/ed.msg" -sigfile "$work/ed.sig"

# ECDH with a generated P-256 key in 9d against an openssl key.
send 0047009D05AC03800111
check_match "P-256 public key" '^7F494386410[0-9A-F]{129}9000$' "$reply"
card_point=${reply:10:130}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/peer.pem" 2> /dev/null
peer_point=$(openssl pkey -in "$work/peer.pem" -pubout -outform DER | tail -c 65 | hex)
printf '3059301306072a8648ce3d020106082a8648ce3d030107034200%s' "$card_point" | unhex > "$work/card.der"
openssl pkey -pubin -inform DER -in "$work/card.der" -out "$work/card.pem" || fail "card key"
expect=$(openssl pkeyutl -derive -inkey "$work/peer.pem" -peerkey "$work/card.pem" | hex)
send "0087119D477C4582008541$peer_point"
check "ECDH without PIN" "6982" "$reply"
send "0020008008$pin_block"
check "VERIFY" "9000" "$reply"
send "0087119D477C4582008541$peer_point"
check "ECDH shared secret" "7C228220${expect}9000" "$reply"

# VERIFY status and logout.
send 0020008000
check "PIN verified" "9000" "$reply"
send 0020FF8000
check "logout" "9000" "$reply"
send 0020008000
check "PIN no longer verified" "63C3" "$reply"
send "0087119D477C4582008541$peer_point"
check "ECDH after logout" "6982" "$reply"

# PIN policy "always" (9c): the signature must directly follow VERIFY.
block=$(printf '%0512X' 1)
send "0020008008$pin_block"
send 00CB3FFF055C035FC10200
send "1087079CFF7C820106820081820100${block:0:490}"
send "0087079C$(printf '%02X' $(( (${#block} - 490) / 2 )))${block:490}"
check "9c after another command" "6982" "$reply"
send "0020008008$pin_block"
send "1087079CFF7C820106820081820100${block:0:490}"
send "0087079C$(printf '%02X' $(( (${#block} - 490) / 2 )))${block:490}00"
check_match "9c right after VERIFY" '^7C82010482820100[0-9A-F]{496}6108$' "$reply"
send 00C0000000
check_match "rest of the signature" '^[0-9A-F]+9000$' "$reply"

# AES-192 management key, one-way authentication.
aes=000102030405060708090A0B0C0D0E0F1011121314151617
send "00FFFFFF1B0A9B18$aes"
check "SET MGMT KEY AES-192" "9000" "$reply"
send 00F7009B00
check "metadata 9B" "0101" "${reply:0:4}"
check "metadata 9B algorithm" "0A" "${reply:4:2}"
send $sel
send 00870A9B047C028100
check_match "AES challenge" '^7C128110[0-9A-F]{32}9000$' "$reply"
answer=$(ecb -e aes-192-ecb "$aes" "${reply:8:32}")
send 00870A9B047C028100
send "00870A9B147C128210$(printf '%032X' 0)"
check "wrong AES response" "6982" "$reply"
send 00870A9B047C028100
answer=$(ecb -e aes-192-ecb "$aes" "${reply:8:32}")
send "00870A9B147C128210$answer"
check "AES one-way authentication" "9000" "$reply"
send 0047009E05AC03800114
check_match "P-384 GENERATE after AES auth" '^7F49638661[0-9A-F]{194}9000$' "$reply"
# MOVE KEY (YubiKey 5.7): 9e to retired slot 95, then delete it there.
send 00F6959E00
check "MOVE KEY 9e -> 95" "9000" "$reply"
send 00F7009E00
check "9e now empty" "6A88" "$reply"
send 00F7009500
check "95 holds the P-384 key" "010114" "${reply:0:6}"
send 00F6FF9500
check "DELETE KEY 95" "9000" "$reply"
send 00F7009500
check "95 empty" "6A88" "$reply"
send "00FFFFFF1B039B18$mgmt"
check "back to the 3DES key" "9000" "$reply"

# Random APDUs with real instructions and TLV-looking data, while the PIN and
# the management key are verified (deeper parsing paths).
mgmt_auth_3des
send "0020008008$pin_block"
for _ in $(seq 400); do
	case $((RANDOM % 14)) in
	0) ins=20 ;; 1) ins=24 ;; 2) ins=2C ;; 3) ins=47 ;; 4) ins=87 ;; 5) ins=CB ;; 6) ins=DB ;;
	7) ins=F7 ;; 8) ins=F9 ;; 9) ins=FE ;; 10) ins=A4 ;; 11) ins=C0 ;; 12) ins=F6 ;; *) ins=FD ;;
	esac
	case $((RANDOM % 6)) in 0) t=5C ;; 1) t=7C ;; 2) t=AC ;; 3) t=53 ;; 4) t=06 ;; *) t=82 ;; esac
	n=$((RANDOM % 40))
	data=$t$(printf '%02X' $((RANDOM % 64)))$(head -c $n /dev/urandom | hex)
	p1=$(printf '%02X' $((RANDOM % 3 == 0 ? RANDOM % 256 : 0)))
	p2s=(9A 9C 9D 9E 82 95 9B 80 81 F9 FF 00)
	send "00$ins$p1${p2s[RANDOM % 12]}$(printf '%02X' $((${#data} / 2)))$data"
	[[ $reply =~ ^[0-9A-F]{4,}$ ]] || fail "random APDU got [$reply]"
done
send $sel
check "SELECT after structured random APDUs" "$apt" "$reply"
close_card

# The APDU counter counts every APDU the card processed.
before=$(apdu_count)
apdu 00FD0000 00FD0000 00FD0000 > /dev/null
check "APDU counter" $((before + 3)) "$(apdu_count)"

# Fault injection through the control script.
check_rc "fault garbage-sw on GET VERSION" 0 "$SIGNET_CARDSIM_CTL" fault garbage-sw:FD
sleep 0.3
check "garbage status word" "050702A55A" "$(piv_apdu 00FD0000)"
check "other instructions untouched" "$apt" "$(apdu $sel)"
"$SIGNET_CARDSIM_CTL" fault truncate:CB; sleep 0.3
check_match "truncated object" '^533B3019D4E739DA739CED39CE739D8368582108421084[0-9A-F]{14}9000$' \
	"$(piv_apdu 00CB3FFF055C035FC10200)"
"$SIGNET_CARDSIM_CTL" fault bad-length:CB; sleep 0.3
check_match "bad length" '^537F3019' "$(piv_apdu 00CB3FFF055C035FC10200)"
"$SIGNET_CARDSIM_CTL" fault short:FD; sleep 0.3
check "one-byte response" "90" "$(piv_apdu 00FD0000)"
"$SIGNET_CARDSIM_CTL" fault drop:FD; sleep 0.3
check_match "dropped connection" '^(EMPTY|ERR 8010[0-9A-F]{4})$' "$(apdu 00FD0000)"
check_rc "card out after the drop" 0 "$SIGNET_CARDSIM_BIN" --wait-reader "$SIGNET_TEST_READER" --absent --timeout 3000
check_rc "card back after the drop" 0 "$SIGNET_CARDSIM_CTL" wait
check "other instructions still answered" "$apt" "$(apdu $sel)"
"$SIGNET_CARDSIM_CTL" fault none; sleep 0.3
check "faults off" "0507029000" "$(piv_apdu 00FD0000)"

# Random APDUs after a SELECT: the card answers each one and keeps working.
echo $sel > "$work/random.apdus"
for _ in $(seq 300); do
	n=$(( 4 + RANDOM % 300 ))
	head -c $n /dev/urandom | hex
	echo
done >> "$work/random.apdus"
"$SIGNET_CARDSIM_BIN" --apdu "$SIGNET_TEST_READER" < "$work/random.apdus" > "$work/random.out"
check "an answer for every random APDU" 301 "$(grep -c '^[0-9A-F]\{4,\}$' "$work/random.out")"
check_rc "simulator alive" 0 kill -0 "$("$SIGNET_CARDSIM_CTL" pid)"
check "SELECT after random APDUs" "$apt" "$(apdu $sel)"
