#!/usr/bin/env bash
# Key algorithms at the APDU level: RSA-3072 and RSA-4096 imported with
# chained IMPORT KEY and used for raw RSA (responses fetched with GET
# RESPONSE), checked with openssl; 3DES one-way and AES-256 mutual
# management-key authentication; X25519 key agreement.
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-import.sh"
need_card

open_card
send $sel
mgmt_auth

for bits in 3072 4096; do
	[ $bits = 3072 ] && alg=05 slot=83 || alg=16 slot=84
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits -out "$work/rsa$bits.key" 2> /dev/null || fail "key"
	openssl pkey -in "$work/rsa$bits.key" -pubout -out "$work/rsa$bits.pub" || fail "public key"
	import_rsa "$work/rsa$bits.key" $bits $slot 01
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
