# shellcheck shell=bash
# Putting keys on the simulated card with the card's own commands, on the
# connection open_card keeps (source after card-harness.sh). yubico-piv-tool
# 2.2 knows neither RSA-3072/4096 nor Ed25519/X25519, so these speak APDUs.
#
#   hex / unhex                 bytes <-> upper-case hex on stdin/stdout
#   ecb MODE CIPHER KEY HEX     one block through openssl enc (-e / -d)
#   ber_len N                   the BER length of N bytes, in hex
#   send_long INS-P1-P2 DATA    the command chained in 255-byte pieces, the answer
#                               gathered with GET RESPONSE: $reply is all of it + SW
#   mgmt_auth                   one-way 3DES authentication with the default key
#   import_rsa FILE BITS SLOT [POLICY]    IMPORT KEY of an RSA-3072/4096 key file
#   import_25519 FILE ALG SLOT [POLICY]   IMPORT KEY of an Ed25519 (E0) / X25519 (E1)
#                               key file; POLICY is the PIN policy byte (AA), default
#                               the slot's own
# shellcheck disable=SC2154
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

mgmt_auth() {
	send 0087039B047C028100
	check_match "3DES challenge" '^7C0A8108[0-9A-F]{16}9000$' "$reply"
	send "0087039B0C7C0A8208$(ecb -e des-ede3 "$SIGNET_TEST_MGMT_KEY" "${reply:8:16}")"
	check "3DES one-way authentication" 9000 "$reply"
}

rsa_part() { # key-file name bytes -> the component, left-padded to bytes
	local v
	v=$(openssl rsa -in "$1" -text -noout 2> /dev/null |
		awk -v n="$2:" '$1 == n { f = 1; next } f && /^[a-zA-Z]/ { f = 0 } f { gsub(/[ :]/, ""); printf "%s", $0 }' |
		tr a-f A-F | sed 's/^0*//')
	printf '%*s' $(($3 * 2 - ${#v})) '' | tr ' ' 0
	printf '%s' "$v"
}

policy_tlv() { # [pin-policy byte]
	[ -n "${1:-}" ] && printf 'AA01%s' "$1"
	return 0
}

import_rsa() { # key-file bits slot [pin-policy]
	local half=$(($2 / 16)) data= i=1 alg part
	[ "$2" = 3072 ] && alg=05 || alg=16
	for part in prime1 prime2 exponent1 exponent2 coefficient; do
		data=$data$(printf '%02X' $i)$(ber_len $half)$(rsa_part "$1" $part $half)
		i=$((i + 1))
	done
	send_long "FE$alg$3" "$data$(policy_tlv "${4:-}")"
	check "IMPORT RSA-$2 into $3" 9000 "$reply"
}

import_25519() { # key-file alg slot [pin-policy]
	local tag raw data
	[ "$2" = E0 ] && tag=07 || tag=08
	# The private key is the last 32 bytes of its PKCS#8 form.
	raw=$(openssl pkey -in "$1" -outform DER | tail -c 32 | hex)
	data=${tag}20$raw$(policy_tlv "${4:-}")
	send "00FE$2$3$(printf '%02X' $((${#data} / 2)))$data"
	check "IMPORT $2 into $3" 9000 "$reply"
}
