"""Interop oracle for the smbcrypto tests: runs impacket's own SMB3 code
paths (impacket.smb3.SMB3.signSMB / sendSMB / recvSMB, impacket.crypto) on
fixed inputs and prints the results as JSON. Run only by /usr/bin/python3.

  impacket_interop.py vectors
  impacket_interop.py check DIALECT SIGNKEY DECKEY SIGNEDMSG TRANSFORM
"""
import binascii
import hashlib
import json
import random
import sys

from Cryptodome.Cipher import AES
from impacket import crypto, smb3
from impacket.smb3structs import (SMB2Packet, SMB2Echo, SMB2_ECHO,
                                  SMB2_DIALECT_21, SMB2_DIALECT_30,
                                  SMB2_SESSION_FLAG_ENCRYPT_DATA)

h = binascii.hexlify
uh = binascii.unhexlify

SESSION_KEY = bytes(range(16))
PREAUTH = hashlib.sha512(b"preauth-test").digest()
SESSION_ID = 0x0000400000000011


class Wire(object):
    """Stands in for impacket's NetBIOS session: captures what SMB3 sends
    and hands SMB3 what the test received."""

    def __init__(self, incoming=None):
        self.sent = []
        self.incoming = incoming

    def send_packet(self, data):
        self.sent.append(data)

    def recv_packet(self, timeout=None):
        incoming = self.incoming

        class Frame(object):
            def get_trailer(self):
                return incoming
        return Frame()


def client(dialect, wire):
    """An impacket SMB3 client object in the state after session setup,
    without any network connection."""
    s = smb3.SMB3.__new__(smb3.SMB3)
    s._NetBIOSSession = wire
    s._timeout = 1
    s._Connection = {'Dialect': dialect, 'SequenceWindow': 5,
                     'OutstandingResponses': {}}
    session = {'SessionID': SESSION_ID, 'SessionKey': SESSION_KEY,
               'SigningActivated': True, 'TreeConnectTable': {},
               'SessionFlags': 0, 'CalculatePreAuthHash': False}
    if dialect == SMB2_DIALECT_21:
        session['SigningKey'] = SESSION_KEY
    else:
        kdf = crypto.KDF_CounterMode
        session['SigningKey'] = kdf(SESSION_KEY, b"SMB2AESCMAC\x00", b"SmbSign\x00", 128)
        session['EncryptionKey'] = kdf(SESSION_KEY, b"SMB2AESCCM\x00", b"ServerIn \x00", 128)
        session['DecryptionKey'] = kdf(SESSION_KEY, b"SMB2AESCCM\x00", b"ServerOut\x00", 128)
    s._Session = session
    return s


def echo():
    p = SMB2Packet()
    p['Command'] = SMB2_ECHO
    p['Data'] = SMB2Echo()
    return p


def vectors():
    kdf = crypto.KDF_CounterMode
    out = {
        'kdf30': {
            'signing': h(kdf(SESSION_KEY, b"SMB2AESCMAC\x00", b"SmbSign\x00", 128)),
            'application': h(kdf(SESSION_KEY, b"SMB2APP\x00", b"SmbRpc\x00", 128)),
            'serverOut': h(kdf(SESSION_KEY, b"SMB2AESCCM\x00", b"ServerOut\x00", 128)),
            'serverIn': h(kdf(SESSION_KEY, b"SMB2AESCCM\x00", b"ServerIn \x00", 128)),
        },
        'kdf311': {
            'signing': h(kdf(SESSION_KEY, b"SMBSigningKey\x00", PREAUTH, 128)),
            'application': h(kdf(SESSION_KEY, b"SMBAppKey\x00", PREAUTH, 128)),
            's2c': h(kdf(SESSION_KEY, b"SMBS2CCipherKey\x00", PREAUTH, 128)),
            'c2s': h(kdf(SESSION_KEY, b"SMBC2SCipherKey\x00", PREAUTH, 128)),
        },
        'cmac': [],
    }
    key = bytes(range(0x40, 0x50))
    for n in (0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 1000):
        msg = bytes((i * 7 + 3) & 0xff for i in range(n))
        out['cmac'].append({'len': n, 'mac': h(crypto.AES_CMAC(key, msg, len(msg)))})

    # Signed requests, through SMB3.sendSMB -> signSMB exactly as impacket sends them.
    for name, dialect in (('signed21', SMB2_DIALECT_21), ('signed30', SMB2_DIALECT_30)):
        wire = Wire()
        client(dialect, wire).sendSMB(echo())
        out[name] = h(wire.sent[0])

    # An encrypted request (signed first, then encrypted, as impacket does).
    smb3.rand = random.Random(20261122)  # fixed nonce for a reproducible vector
    wire = Wire()
    c = client(SMB2_DIALECT_30, wire)
    c._Session['SessionFlags'] = SMB2_SESSION_FLAG_ENCRYPT_DATA
    c.sendSMB(echo())
    out['encrypted30'] = h(wire.sent[0])
    print(json.dumps({k: (v.decode() if isinstance(v, bytes) else v) for k, v in out.items()},
                     default=lambda b: b.decode()))


def check(dialect, signkey, deckey, signed, transform):
    """Checks messages made by the Go code: verifies a signed message with
    impacket's signSMB, decrypts a transform with impacket's recvSMB (and
    checks its tag with Cryptodome, which recvSMB skips), and re-encrypts
    the plaintext under the same header the way impacket's sendSMB does."""
    dialect = int(dialect, 0)
    signed, transform = uh(signed), uh(transform)
    c = client(dialect, Wire())
    c._Session['SigningKey'] = uh(signkey)
    pkt = SMB2Packet(signed)
    want = bytes(pkt['Signature'])
    c.signSMB(pkt)
    got = bytes(pkt['Signature'])

    c = client(dialect, Wire(incoming=transform))
    c._Session['DecryptionKey'] = uh(deckey)
    plain = c.recvSMB().getData()
    cipher = AES.new(uh(deckey), AES.MODE_CCM, transform[20:31])
    cipher.update(transform[20:52])
    try:
        cipher.decrypt_and_verify(transform[52:], transform[4:20])
        tag_ok = True
    except ValueError:
        tag_ok = False
    cipher = AES.new(uh(deckey), AES.MODE_CCM, transform[20:31])
    cipher.update(transform[20:52])
    body = cipher.encrypt(plain)
    redone = transform[:4] + cipher.digest() + transform[20:52] + body
    print(json.dumps({'signatureOK': got == want, 'signature': h(got).decode(),
                      'plaintext': h(plain).decode(), 'tagOK': tag_ok,
                      'transform': h(redone).decode()}))


if __name__ == '__main__':
    if sys.argv[1] == 'vectors':
        vectors()
    elif sys.argv[1] == 'check':
        check(*sys.argv[2:7])
    else:
        sys.exit('unknown mode')
