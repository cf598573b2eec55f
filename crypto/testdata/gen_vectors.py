# Independent computation of the JOINPR vectors in vectors_test.go from MS-WKST
# 2.2.5.18 and 2.2.5.19 with Cryptodome: /usr/bin/python3 testdata/gen_vectors.py
import hmac, hashlib, struct
from Cryptodome.Cipher import ARC4, AES
from Cryptodome.Hash import MD5

key = bytes(range(16))
pw = "Pa$$w0rd-\u00dcn\u00efc\u00f8d\u00e9-\U0001F600".encode("utf-16-le")
obf = bytes([0xa0+i for i in range(8)])
filler = bytes([(i*7+3) & 0xff for i in range(512)])
buf = bytearray(filler)
buf[512-len(pw):] = pw
plain = bytes(buf) + struct.pack("<I", len(pw))
rk = MD5.new(key+obf).digest()
blob = obf + ARC4.new(rk).encrypt(plain)
assert len(blob) == 524
print("RC4", blob.hex())

# spec seed example inside an RC4 blob
seedenc = bytes.fromhex("ab00bb10fa51a902fa51ad06e249b01bf45f0000")
buf = bytearray(filler); buf[512-len(seedenc):] = seedenc
plain = bytes(buf) + struct.pack("<I", len(seedenc))
blob2 = obf + ARC4.new(rk).encrypt(plain)
print("RC4SEED", blob2.hex())

enc_label = b"Microsoft WKST encryption key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"
mac_label = b"Microsoft WKST MAC key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"
assert len(enc_label) == 62 and len(mac_label) == 55
ek = hmac.new(key, enc_label, hashlib.sha512).digest()
mk = hmac.new(key, mac_label, hashlib.sha512).digest()
salt = bytes([0x10+i for i in range(16)])
pt = struct.pack("<I", len(pw)) + pw
pad = 16 - len(pt) % 16
pt += bytes([pad])*pad
ct = AES.new(ek[:32], AES.MODE_CBC, iv=salt).encrypt(pt)
auth = hmac.new(mk, ct + salt + b"\x01\x01", hashlib.sha512).digest()
print("AESCT", ct.hex()); print("AESAUTH", auth.hex())
auth2 = hmac.new(mk, b"\x01" + salt + ct + b"\x01", hashlib.sha512).digest()
print("AESAUTH_AEAD", auth2.hex())
# seed-encoded password in AES, zero padded (not PKCS#7)
pt = struct.pack("<I", len(seedenc)) + seedenc
pt += bytes(16 - len(pt) % 16)
ct3 = AES.new(ek[:32], AES.MODE_CBC, iv=salt).encrypt(pt)
print("AESSEEDCT", ct3.hex()); print("AESSEEDAUTH", hmac.new(mk, ct3 + salt + b"\x01\x01", hashlib.sha512).digest().hex())
