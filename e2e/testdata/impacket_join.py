"""Joins and unjoins through impacket over SMB, encrypting the password here.

usage: impacket_join.py HOST PORT DIALECT USER PASSWORD METHOD [key=value ...]
METHOD: join3 (opnum 31, AES blob), unjoin3 (opnum 32), join2 (impacket's
NetrJoinDomain2, RC4 blob), unjoin2; through impacket's own helpers:
rename2 (hNetrRenameMachineInDomain2), addalt (hNetrAddAlternateComputerName),
rmalt (hNetrRemoveAlternateComputerName), setprimary
(hNetrSetPrimaryComputerName), enumnames (hNetrEnumerateComputerNames).
keys: domain=, ou=, account=, joinpw= (the password sent in the blob; absent
= NULL pointer), options= (integer), name= (machine, alternate or primary
name), nametype= (integer), reserved= (addalt's Reserved, request class), key=wrong (encrypt with a wrong key),
tamper=authdata (flip a bit of AuthData), anonymous=1 (null session),
syntax=NDR64 (bind with NDR64 alone; default NDR),
rpcauth=ntlm with rpclevel=connect|integrity|privacy (authenticate the RPC
bind as USER too; above connect the blobs are encrypted with the constant
key "SystemLibraryDTC", as Windows clients do).
Prints "dialect=", "sessionkey=" and "code=0x%08x" (the method's return);
enumnames also "names=" (comma-separated).
"""
import hashlib
import hmac
import os
import struct
import sys

from Cryptodome.Cipher import AES, ARC4
from impacket.dcerpc.v5 import rpcrt, transport, wkst
from impacket.dcerpc.v5.dtypes import DWORD, LPWSTR, NULL, ULONG, WSTR
from impacket.dcerpc.v5.ndr import NDRCALL, NDRPOINTER, NDRSTRUCT, NDRUniConformantArray
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smb3structs import SMB2_DIALECT_002, SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.smbconnection import SMBConnection

NDR64 = ("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0")  # MS-RPCE 2.2.5.1
DIALECTS = {"2.0.2": SMB2_DIALECT_002, "2.1": SMB2_DIALECT_21, "3.0": SMB2_DIALECT_30}

class DCERPCSessionError(DCERPCException):
    """impacket raises this module's DCERPCSessionError for a non-zero return
    of a call defined here."""

    def __init__(self, error_string=None, error_code=None, packet=None):
        DCERPCException.__init__(self, error_string, error_code, packet)


# MS-WKST 2.2.5.19, defined here: impacket 0.10 lacks opnums 31 and 32.
class CIPHER_ARRAY(NDRUniConformantArray):
    item = "c"

class PCIPHER_ARRAY(NDRPOINTER):
    referent = (("Data", CIPHER_ARRAY),)

class JOINPR_ENCRYPTED_USER_PASSWORD_AES(NDRSTRUCT):
    structure = (
        ("AuthData", "64s=b\"\""),
        ("Salt", "16s=b\"\""),
        ("cbCipher", DWORD),
        ("Cipher", PCIPHER_ARRAY),
    )

    def getAlignment(self):
        # NDR aligns this structure to 4 (its largest member), not to 64;
        # NDR64 to 8, its pointer (MS-RPCE 2.2.5.3.4).
        return 8 if self._isNDR64 else 4

class PJOINPR_ENCRYPTED_USER_PASSWORD_AES(NDRPOINTER):
    referent = (("Data", JOINPR_ENCRYPTED_USER_PASSWORD_AES),)

class NetrJoinDomain3(NDRCALL):
    opnum = 31
    structure = (
        ("ServerName", LPWSTR),
        ("DomainNameParam", WSTR),
        ("MachineAccountOU", LPWSTR),
        ("AccountName", LPWSTR),
        ("Password", PJOINPR_ENCRYPTED_USER_PASSWORD_AES),
        ("Options", ULONG),
    )

class NetrJoinDomain3Response(NDRCALL):
    structure = (("ErrorCode", ULONG),)

class NetrUnjoinDomain3(NDRCALL):
    opnum = 32
    structure = (
        ("ServerName", LPWSTR),
        ("AccountName", LPWSTR),
        ("Password", PJOINPR_ENCRYPTED_USER_PASSWORD_AES),
        ("Options", ULONG),
    )

class NetrUnjoinDomain3Response(NDRCALL):
    structure = (("ErrorCode", ULONG),)

ENC_LABEL = b"Microsoft WKST encryption key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"
MAC_LABEL = b"Microsoft WKST MAC key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"


def aes_blob(key, password, tamper):
    enc_key = hmac.new(key, ENC_LABEL, hashlib.sha512).digest()[:32]
    mac_key = hmac.new(key, MAC_LABEL, hashlib.sha512).digest()
    salt = os.urandom(16)
    plain = struct.pack("<I", len(password.encode("utf-16-le"))) + password.encode("utf-16-le")
    pad = 16 - len(plain) % 16
    plain += bytes([pad]) * pad
    cipher = AES.new(enc_key, AES.MODE_CBC, salt).encrypt(plain)
    auth = hmac.new(mac_key, cipher + salt + b"\x01\x01", hashlib.sha512).digest()
    if tamper == "authdata":
        auth = bytes([auth[0] ^ 1]) + auth[1:]
    return auth, salt, cipher


def rc4_blob(key, password):
    pw = password.encode("utf-16-le")
    buf = os.urandom(512 - len(pw)) + pw + struct.pack("<I", len(pw))
    obfuscator = os.urandom(8)
    rc4key = hashlib.md5(key + obfuscator).digest()
    return obfuscator + ARC4.new(rc4key).encrypt(buf)


def main():
    host, port, dialect, user, password, method = sys.argv[1:7]
    opts = dict(a.split("=", 1) for a in sys.argv[7:])
    conn = SMBConnection(host, host, sess_port=int(port), preferredDialect=DIALECTS[dialect], timeout=30)
    if opts.get("anonymous") == "1":
        conn.login("", "")
    else:
        conn.login(user, password)
    key = conn.getSessionKey()
    print("dialect=%#x" % conn.getDialect())
    print("sessionkey=%s" % key.hex())
    if opts.get("key") == "wrong" or not key:
        key = bytes(16) if key else b"\x00" * 16
    rpc = transport.SMBTransport(host, int(port), filename=r"\wkssvc", smb_connection=conn)
    if opts.get("rpcauth") == "ntlm":
        rpc.set_credentials(user, password, "", "", "", None)
    dce = rpc.get_dce_rpc()
    if opts.get("rpcauth") == "ntlm":
        levels = {"connect": rpcrt.RPC_C_AUTHN_LEVEL_CONNECT, "integrity": rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
                  "privacy": rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY}
        level = opts.get("rpclevel", "privacy")
        dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
        dce.set_auth_level(levels[level])
        if level != "connect":
            key = b"SystemLibraryDTC"
    dce.connect()
    if opts.get("syntax") == "NDR64":
        dce.bind(wkst.MSRPC_UUID_WKST, transfer_syntax=NDR64)
    else:
        dce.bind(wkst.MSRPC_UUID_WKST)
    joinpw = opts.get("joinpw")
    options = int(opts.get("options", "0"), 0)
    account = opts.get("account", NULL)
    if method in ("join3", "unjoin3"):
        req = NetrJoinDomain3() if method == "join3" else NetrUnjoinDomain3()
        req["ServerName"] = NULL
        if method == "join3":
            req["DomainNameParam"] = opts.get("domain", "") + "\x00"
            req["MachineAccountOU"] = opts["ou"] + "\x00" if "ou" in opts else NULL
        req["AccountName"] = account + "\x00" if account is not NULL else NULL
        if joinpw is None:
            req["Password"] = NULL
        else:
            auth, salt, cipher = aes_blob(key, joinpw, opts.get("tamper"))
            req["Password"]["AuthData"] = auth
            req["Password"]["Salt"] = salt
            req["Password"]["cbCipher"] = len(cipher)
            req["Password"]["Cipher"] = list(cipher)
        req["Options"] = options
        try:
            resp = dce.request(req)
            code = resp["ErrorCode"]
        except DCERPCException as e:
            code = e.get_error_code()
    elif method in ("rename2", "addalt", "rmalt", "setprimary", "enumnames"):
        blob = NULL if joinpw is None else rc4_blob(key, joinpw)
        name = opts.get("name", NULL)
        try:
            if method == "rename2":
                resp = wkst.hNetrRenameMachineInDomain2(dce, name, account, blob, options)
            elif method == "addalt" and "reserved" in opts:
                # impacket's helper leaves Reserved 0: its request class.
                req = wkst.NetrAddAlternateComputerName()
                req["ServerName"] = NULL
                req["AlternateName"] = name + "\x00"
                req["DomainAccount"] = NULL
                req["EncryptedPassword"] = NULL
                req["Reserved"] = int(opts["reserved"], 0)
                resp = dce.request(req)
            elif method == "addalt":
                resp = wkst.hNetrAddAlternateComputerName(dce, name, account, blob)
            elif method == "rmalt":
                resp = wkst.hNetrRemoveAlternateComputerName(dce, name, account, blob)
            elif method == "setprimary":
                resp = wkst.hNetrSetPrimaryComputerName(dce, name, account, blob)
            else:
                resp = wkst.hNetrEnumerateComputerNames(dce, int(opts.get("nametype", "2")))
                arr = resp["ComputerNames"]
                names = [] if arr == NULL else [n["Data"].rstrip("\x00") for n in arr["ComputerNames"]]
                print("names=%s" % ",".join(names))
            code = resp["ErrorCode"]
        except DCERPCException as e:
            code = e.get_error_code()
    else:
        blob = NULL if joinpw is None else rc4_blob(key, joinpw)
        try:
            if method == "join2":
                resp = wkst.hNetrJoinDomain2(dce, opts.get("domain", ""), opts.get("ou", NULL), account, blob, options)
            else:
                resp = wkst.hNetrUnjoinDomain2(dce, account, blob, options)
            code = resp["ErrorCode"]
        except DCERPCException as e:
            code = e.get_error_code()
    print("code=%#010x" % code)
    dce.disconnect()
    conn.logoff()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # reported to the Go test, which decides
        print("error=%s" % e)
        sys.exit(1)
