#!/usr/bin/env bash
# Key algorithms at the APDU level: RSA-3072 and RSA-4096 imported with
# chained IMPORT KEY and used for raw RSA (responses fetched with GET
# RESPONSE), checked with openssl; 3DES one-way and AES-256 mutual
# management-key authentication; X25519 key agreement.
. "$(dirname "$0")/../lib/card-harness.sh"
need_card

mgmt=$SIGNET_TEST_MGMT_KEY
hex() { od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }
unhex() { xxd -r -p; }
ecb() { # mode(-e/-d) cipher key hex
	printf '%s' "$4" | unhex | openssl enc "$1" "-$2" -K "$3" -nopad | hex
}
ber_len() { # byte count -> BER length in hex
	if [ "$1" -lt 128 ]; then printf '%02X' "$1"
	elif [ "$1" -lt 256 ]; then printf '81%02X' "$1"
	else printf '82%04X' "$1"; fi
}
open_card
# Sends INS P1 P2 with data in 255-byte chained pieces, then collects 61xx
# pieces with GET RESPONSE; $reply ends up as all the data plus the last SW.
send_long() { # ins-p1-p2 data
	local data=$2 all
	while [ ${#data} -gt 510 ]; do
		send "10$1FF${data:0:510}"
		check "chained piece" 9000 "$reply"
		data=${data:510}
	done
	send "00$1$(printf '%02X' $((${#data} / 2)))${data}00"
	all=${reply%????}
	while [ "${reply:${#reply}-4:2}" = 61 ]; do
		send 00C0000000
		all=$all${reply%????}
	done
	reply=$all${reply: -4}
}
rsa_part() { # key-file name bytes -> the component, left-padded to bytes
	local v
	v=$(openssl rsa -in "$1" -text -noout 2> /dev/null |
		awk -v n="$2:" '$1 == n { f = 1; next } f && /^[a-zA-Z]/ { f = 0 } f { gsub(/[ :]/, ""); printf "%s", $0 }' |
		tr a-f A-F | sed 's/^0*//')
	printf '%*s' $(($3 * 2 - ${#v})) '' | tr ' ' 0
	printf '%s' "$v"
}

send $sel
# 3DES one-way authentication.
send 0087039B047C028100
check_match "3DES challenge" '^7C0A8108[0-9A-F]{16}9000$' "$reply"
send "0087039B0C7C0A8208$(ecb -e des-ede3 "$mgmt" "${reply:8:16}")"
check "3DES one-way authentication" 9000 "$reply"

for bits in 3072 4096; do
	[ $bits = 3072 ] && alg=05 slot=83 || alg=16 slot=84
	half=$((bits / 16))
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits -out "$work/rsa$bits.key" 2> /dev/null || fail "key"
	openssl pkey -in "$work/rsa$bits.key" -pubout -out "$work/rsa$bits.pub" || fail "public key"
	data=
	i=1
	for part in prime1 prime2 exponent1 exponent2 coefficient; do
		data=$data$(printf '%02X' $i)$(ber_len $half)$(rsa_part "$work/rsa$bits.key" $part $half)
		i=$((i + 1))
	done
	send_long "FE$alg$slot" "${data}AA0101"
	check "IMPORT RSA-$bits (chained)" 9000 "$reply"
	send "00F700${slot}00"
	check "metadata RSA-$bits: PIN never, imported" "0101${alg}020201010301020482" "${reply:0:24}"
	# Raw RSA on a random block below the modulus.
	block=00$(head -c $((bits / 8 - 1)) /dev/urandom | hex)
	inner="8200""81$(ber_len $((bits / 8)))$block"
	send_long "87$alg$slot" "7C$(ber_len $((${#inner} / 2)))$inner"
	check_match "RSA-$bits result" "^7C82....8282....[0-9A-F]{$((bits / 4))}9000$" "$reply"
	printf '%s' "${reply:16:$((bits / 4))}" | unhex > "$work/sig$bits"
	check "openssl recovers the block (RSA-$bits)" "$block" \
		"$(openssl pkeyutl -verifyrecover -pubin -inkey "$work/rsa$bits.pub" -pkeyopt rsa_padding_mode:none \
			-in "$work/sig$bits" | hex)"
	send_long "87$alg$slot" "7C$(ber_len $((${#inner} / 2 - 1)))${inner:0:${#inner}-2}"
	check "RSA-$bits block one byte short" 6A80 "$reply"
done

# X25519 in 85: generate, then agree with an openssl key.
send 0047008508AC068001E1AA0101
check_match "X25519 public key" '^7F49228620[0-9A-F]{64}9000$' "$reply"
printf '302a300506032b656e032100%s' "${reply:10:64}" | unhex > "$work/x.der"
openssl pkey -pubin -inform DER -in "$work/x.der" -out "$work/x.pem" || fail "card X25519 key"
openssl genpkey -algorithm X25519 -out "$work/peer.pem" 2> /dev/null
peer=$(openssl pkey -in "$work/peer.pem" -pubout -outform DER | tail -c 32 | hex)
expect=$(openssl pkeyutl -derive -inkey "$work/peer.pem" -peerkey "$work/x.pem" | hex)
send "0087E185267C2482008520$peer"
check "X25519 shared secret" "7C228220${expect}9000" "$reply"

# AES-256 management key with mutual authentication.
aes=$(head -c 32 /dev/urandom | hex)
send "00FFFFFF23 0C9B20$aes"
check "SET MGMT KEY AES-256" 9000 "$reply"
send $sel
send 00870C9B047C028000
check_match "AES witness" '^7C128010[0-9A-F]{32}9000$' "$reply"
r=$(ecb -d aes-256-ecb "$aes" "${reply:8:32}")
host=$(head -c 16 /dev/urandom | hex)
send "00870C9B287C268010${r}8110${host}8200"
check "AES-256 mutual answer" "7C128210$(ecb -e aes-256-ecb "$aes" "$host")9000" "$reply"
send 0047009A05AC03800111
check_match "GENERATE after AES-256 authentication" '^7F494386410[0-9A-F]{129}9000$' "$reply"
send $sel
send 00870C9B047C028000
send "00870C9B287C268010$(printf '%032X' 0)8110${host}8200"
check "wrong AES witness" 6982 "$reply"
send 0047009A05AC03800111
check "no GENERATE after a failed authentication" 6982 "$reply"
close_card
