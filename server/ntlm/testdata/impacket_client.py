# NTLM initiator driven by interop tests: impacket's own
# getNTLMSSPType1/getNTLMSSPType3 and, with spnego=1, its SPNEGO token
# classes used as impacket's SMB3 session setup uses them. Tokens are
# exchanged as hex lines on stdin/stdout.
#   argv: user password domain signing(0|1) ntlmv2(0|1) spnego(0|1)
#   out:  first token hex
#   in:   server token hex
#   out:  second token hex, then ExportedSessionKey hex
import binascii
import sys

from impacket import ntlm
from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp, TypesMech

user, password, domain = sys.argv[1], sys.argv[2], sys.argv[3]
signing = sys.argv[4] == "1"
v2 = sys.argv[5] == "1"
spnego = sys.argv[6] == "1"

t1 = ntlm.getNTLMSSPType1("WS01", "", signingRequired=signing, use_ntlmv2=v2)
first = t1.getData()
if spnego:
    blob = SPNEGO_NegTokenInit()
    blob["MechTypes"] = [TypesMech["NTLMSSP - Microsoft NTLM Security Support Provider"]]
    blob["MechToken"] = first
    first = blob.getData()
print(binascii.hexlify(first).decode(), flush=True)

t2 = binascii.unhexlify(sys.stdin.readline().strip())
if spnego:
    t2 = SPNEGO_NegTokenResp(t2)["ResponseToken"]
t3, key = ntlm.getNTLMSSPType3(t1, t2, user, password, domain, use_ntlmv2=v2)
second = t3.getData()
if spnego:
    resp = SPNEGO_NegTokenResp()
    resp["ResponseToken"] = second
    second = resp.getData()
print(binascii.hexlify(second).decode(), flush=True)
print(binascii.hexlify(key or b"").decode(), flush=True)
