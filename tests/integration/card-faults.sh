#!/usr/bin/env bash
# A card that answers wrongly: every malformed answer to a signature, a
# decryption or a listing ends as CKR_DEVICE_ERROR (never CKR_OK with a wrong
# result), and the session goes on working once the card answers well again.
set -u
. "$(dirname "$0")/../lib/card-harness.sh"
. "$(dirname "$0")/../lib/card-p11.sh"
need_card
card_conf
pin=$SIGNET_TEST_PIN

drive_bg "$work/out" init slots open login:user:"$pin" ctxpin:"$pin" \
	touch:"$work/f1" wait:"$work/g1" sign:01:ECDSA sign:02:RSA-X-509 \
	touch:"$work/f2" wait:"$work/g2" sign:01:ECDSA sign:02:RSA-X-509 \
	touch:"$work/f3" wait:"$work/g3" sign:01:ECDSA derive:01 \
	touch:"$work/f4" wait:"$work/g4" sign:01:ECDSA \
	touch:"$work/f5" wait:"$work/g5" sign:01:ECDSA sign:02:RSA-X-509 derive:01 finalize
step=1
for mode in truncate:87 garbage-sw:87 short:87 bad-length:87 none; do
	wait_for "$work/f$step"
	"$SIGNET_CARDSIM_CTL" fault "$mode"
	sleep 0.2
	touch "$work/g$step"
	step=$((step + 1))
done
wait $bg || fail "p11_card failed: $(cat "$work/out.err")"
same_as "faults" "$work/out" <<END
init: CKR_OK
slots: CKR_OK 1
open: CKR_OK
login: CKR_OK
ctxpin: CKR_OK
touch: CKR_OK
wait: CKR_OK
sign: CKR_DEVICE_ERROR
sign: CKR_DEVICE_ERROR
touch: CKR_OK
wait: CKR_OK
sign: CKR_DEVICE_ERROR
sign: CKR_DEVICE_ERROR
touch: CKR_OK
wait: CKR_OK
sign: CKR_DEVICE_ERROR
derive: CKR_DEVICE_ERROR
touch: CKR_OK
wait: CKR_OK
sign: CKR_DEVICE_ERROR
touch: CKR_OK
wait: CKR_OK
sign: CKR_OK verified
sign: CKR_OK verified
derive: CKR_OK matches
finalize: CKR_OK
END

# A card without a PIV application (SELECT refused) is shown, and then not recognised.
"$SIGNET_CARDSIM_CTL" fault garbage-sw:A4
expect "not a PIV card" mark init slots slotinfo apdus token open finalize <<END
mark: CKR_OK
init: CKR_OK
slots: CKR_OK 1
slotinfo: CKR_OK present
apdus: CKR_OK 0
token: CKR_TOKEN_NOT_RECOGNIZED
open: CKR_TOKEN_NOT_RECOGNIZED
finalize: CKR_OK
END
"$SIGNET_CARDSIM_CTL" fault none
