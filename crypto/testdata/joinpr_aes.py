# A second implementation of JOINPR_ENCRYPTED_USER_PASSWORD_AES (MS-WKST
# 2.2.5.19), written from the specification's byte layout with Python's
# `cryptography` (Debian's python3-cryptography), sharing no code with the
# Go package. Run with /usr/bin/python3. One JSON object per input line:
#
#   {"op": "seal", "key": HEX16, "salt": HEX16, "password": STR,
#    "order": "wkst"|"aead", "pad": "pkcs7"|"zero"}
#     -> {"auth": HEX64, "salt": HEX16, "cipher": HEX}
#   {"op": "open", "key": HEX16, "auth": HEX, "salt": HEX, "cipher": HEX}
#     -> {"password": STR, "order": "wkst"|"aead"} or {"error": STR}
#
# MAC input orders:
#   wkst: Cipher || Salt || versionbyte || versionbyte_len   (MS-WKST 2.2.5.19.4)
#   aead: versionbyte || Salt || Cipher || versionbyte_len   (MS-SAMR 3.2.2.4, MS-LSAD 5.1.5)
import json
import struct
import sys

from cryptography.hazmat.primitives import constant_time, hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ENC_LABEL = b"Microsoft WKST encryption key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"
MAC_LABEL = b"Microsoft WKST MAC key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"
assert len(ENC_LABEL) == 62 and len(MAC_LABEL) == 55
VERSION, VERSION_LEN = b"\x01", b"\x01"


def hmac512(key, *parts):
    h = hmac.HMAC(key, hashes.SHA512())
    for p in parts:
        h.update(p)
    return h.finalize()


def keys(session_key):
    k = (session_key + bytes(16))[:16]  # 2.2.5.19.2: first 16 bytes, zero padded
    return hmac512(k, ENC_LABEL), hmac512(k, MAC_LABEL)


def mac_input(order, salt, ct):
    if order == "wkst":
        return [ct, salt, VERSION, VERSION_LEN]
    return [VERSION, salt, ct, VERSION_LEN]


def seal(req):
    key, salt = bytes.fromhex(req["key"]), bytes.fromhex(req["salt"])
    enc_key, mac_key = keys(key)
    pw = req["password"].encode("utf-16-le")
    plain = struct.pack("<I", len(pw)) + pw
    n = 16 - len(plain) % 16
    plain += bytes([n]) * n if req.get("pad", "pkcs7") == "pkcs7" else bytes(n % 16)
    e = Cipher(algorithms.AES(enc_key[:32]), modes.CBC(salt)).encryptor()
    ct = e.update(plain) + e.finalize()
    auth = hmac512(mac_key, *mac_input(req.get("order", "wkst"), salt, ct))
    return {"auth": auth.hex(), "salt": salt.hex(), "cipher": ct.hex()}


def open_(req):
    key = bytes.fromhex(req["key"])
    auth, salt, ct = (bytes.fromhex(req[k]) for k in ("auth", "salt", "cipher"))
    enc_key, mac_key = keys(key)
    order = None
    for o in ("wkst", "aead"):
        if constant_time.bytes_eq(hmac512(mac_key, *mac_input(o, salt, ct)), auth):
            order = o
    if order is None:
        return {"error": "AuthData does not match either MAC order"}
    d = Cipher(algorithms.AES(enc_key[:32]), modes.CBC(salt)).decryptor()
    plain = d.update(ct) + d.finalize()
    (n,) = struct.unpack("<I", plain[:4])
    if n > len(plain) - 4 or n % 2:
        return {"error": "bad length %d" % n}
    return {"password": plain[4 : 4 + n].decode("utf-16-le"), "order": order}


for line in sys.stdin:
    req = json.loads(line)
    out = seal(req) if req["op"] == "seal" else open_(req)
    print(json.dumps(out), flush=True)
