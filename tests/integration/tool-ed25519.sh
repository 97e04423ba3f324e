#!/usr/bin/env bash
# Ed25519 with signet-tool on the fallback token (SoftHSM 2.6 has CKM_EC_EDWARDS_KEY_PAIR_GEN
# and CKM_EDDSA): keygen, a PKCS#10 request signed with PureEdDSA on the token (openssl req
# -verify), a test CA's certificate imported, raw and CMS signatures (RFC 8419) checked by
# signet-tool and by openssl's own Ed25519 verification over the CMS signed attributes (the
# openssl cms of Debian 12, OpenSSL 3.0, has no Ed25519); an X25519 key signs nothing.
set -euo pipefail
. "$(dirname "$0")/../lib/tool.sh"
tool_setup
# SoftHSM's own leak when it signs with Ed25519 is not ours (see the file); full stacks find its frames
export LSAN_OPTIONS=suppressions=$top/tests/lib/lsan-softhsm.supp ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0
cd "$work"
tool_token ed
tool keygen --type ed25519 --label edkey --pin-file pin
expect_rc 0 "keygen ed25519"

tool csr --label edkey --subject "/CN=Ed Signer/O=signet" --out ed.csr --pin-file pin
expect_rc 0 "csr with an Ed25519 key"
openssl req -in ed.csr -noout -verify 2>&1 | grep -q "verify OK" || fail "openssl req -verify: $(openssl req -in ed.csr -noout -verify 2>&1)"
openssl req -in ed.csr -noout -text | grep -q "Signature Algorithm: ED25519" || fail "the request is not signed with Ed25519"
echo "ok openssl req -verify checks the Ed25519 request"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=signet test CA" -days 30 2>/dev/null
openssl x509 -req -in ed.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out ed.pem 2>/dev/null
tool import-cert ed.pem --pin-file pin
expect_rc 0 "import-cert for the Ed25519 key"

printf 'a document signed with Ed25519\n' > doc.txt
tool sign doc.txt --label edkey --pin-file pin
expect_rc 0 "raw Ed25519 signature"
openssl x509 -in ed.pem -pubkey -noout > ed.pub
openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in doc.txt -sigfile doc.txt.sig >/dev/null ||
	fail "openssl pkeyutl does not verify the raw signature"
echo "ok openssl verifies the raw Ed25519 signature"

tool sign doc.txt --cms --label edkey --pin-file pin
expect_rc 0 "CMS signature with Ed25519"
expect_in "(Ed25519)" err "sign names the algorithm"
tool verify doc.txt --cms --ca ca.pem --json
expect_rc 0 "verify --cms of an Ed25519 signature, chained to the CA"
[ "$(json_get 'j["valid"], j["chain_checked"], j["signer"]')" = "(True, True, 'CN=Ed Signer, O=signet')" ] ||
	fail "verify json: $out"

# openssl's checks, one by one: the signature over the signed attributes (as a SET), and their
# messageDigest against SHA-512 of the document
python3 - doc.txt.p7s attrs.der sig.bin digest.bin <<'PY'
import sys
def read(b, i):
    tag = b[i]; n = b[i + 1]; i += 2
    if n & 0x80:
        k = n & 0x7f; n = int.from_bytes(b[i:i + k], 'big'); i += k
    return tag, i, n
def children(b, i, n):
    end = i + n
    while i < end:
        tag, vi, vn = read(b, i); yield tag, i, vi, vn; i = vi + vn
d = open(sys.argv[1], 'rb').read()
_, i, n = read(d, 0)
ci = list(children(d, i, n))
_, _, i, n = ci[1]; _, i, n = read(d, i)              # [0] -> SignedData
sd = list(children(d, i, n))
_, _, i, n = sd[-1]                                     # signerInfos SET
_, _, i, n = list(children(d, i, n))[0]                 # the SignerInfo
si = list(children(d, i, n))
attrs = next(x for x in si if x[0] == 0xa0)
open(sys.argv[2], 'wb').write(b'\x31' + d[attrs[1] + 1:attrs[2] + attrs[3]])
open(sys.argv[3], 'wb').write(d[si[-1][2]:si[-1][2] + si[-1][3]])
oid_md = bytes.fromhex('06092a864886f70d010904')
for _, s, vi, vn in children(d, attrs[2], attrs[3]):
    if d[vi:vi + len(oid_md)] == oid_md:
        _, si2, sn = read(d, vi + len(oid_md)); _, oi, on = read(d, si2)
        open(sys.argv[4], 'wb').write(d[oi:oi + on])
PY
openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in attrs.der -sigfile sig.bin >/dev/null ||
	fail "openssl does not verify the Ed25519 signature over the CMS signed attributes"
cmp -s digest.bin <(openssl dgst -sha512 -binary doc.txt) || fail "the messageDigest is not SHA-512 of the document"
echo "ok openssl verifies the CMS signature's Ed25519 signature and its SHA-512 message digest"

printf 'another document\n' > other.txt
tool verify other.txt --cms --signature doc.txt.p7s
expect_rc 11 "an Ed25519 CMS signature over another document"

tool verify doc.txt --cms --cert ca.pem
expect_rc 11 "verify --cms --cert with a certificate that did not sign"

tool keygen --type x25519 --pin-file pin
expect_rc 9 "x25519 on SoftHSM 2.6"
expect_in "cannot generate X25519 keys" err "the message says what is missing"
tool_no_secrets_shown
echo "tool ed25519: all good"
