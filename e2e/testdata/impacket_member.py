"""Logs on to a domain member with impacket and calls NetrWkstaGetInfo.

usage: impacket_member.py ADDR NAME USER PASSWORD DOMAIN [key=value ...]
ADDR is the address to connect to, NAME the server's DNS name (the
Kerberos service principal is cifs/NAME).
keys: krb=1 (SMB logon with Kerberos, impacket -k; needs kdc=), kdc=ADDR,
      level=N (NetrWkstaGetInfo level, default 100),
      rpcauth=ntlm|krb (authenticate the RPC bind too),
      rpclevel=connect|integrity|privacy (default integrity),
      rpcuser=USER, rpcpass=PASSWORD (the RPC bind's account, default the
      SMB logon's),
      tamper=1 (flip a byte of the signed request's stub: the server must
      refuse it), dialect=2.1|3.0.
Prints "code=0x%08x" for the call's return (or the RPC fault status),
"logon=ok" once logged on, "error=..." on a failure before the call.
"""
import struct
import sys

from impacket.dcerpc.v5 import rpcrt, transport, wkst
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smb3structs import SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.smbconnection import SMBConnection

DIALECTS = {"2.1": SMB2_DIALECT_21, "3.0": SMB2_DIALECT_30}
LEVELS = {
    "connect": rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
    "integrity": rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    "privacy": rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
}


def main():
    addr, name, user, password, domain = sys.argv[1:6]
    opts = dict(a.split("=", 1) for a in sys.argv[6:])
    dialect = DIALECTS[opts.get("dialect", "3.0")]
    conn = SMBConnection(name, addr, preferredDialect=dialect, timeout=30)
    kdc = opts.get("kdc")
    if opts.get("krb") == "1":
        conn.kerberosLogin(user, password, domain, kdcHost=kdc)
    else:
        conn.login(user, password, domain)
    print("logon=ok")
    rpc = transport.SMBTransport(name, 445, filename=r"\wkssvc", smb_connection=conn)
    rpcauth = opts.get("rpcauth")
    if rpcauth:
        rpc.set_credentials(opts.get("rpcuser", user), opts.get("rpcpass", password), domain, "", "", None)
        if rpcauth == "krb":
            rpc.set_kerberos(True, kdcHost=kdc)
    dce = rpc.get_dce_rpc()
    if rpcauth == "ntlm":
        dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    elif rpcauth == "krb":
        dce.set_auth_type(rpcrt.RPC_C_AUTHN_GSS_NEGOTIATE)
    if rpcauth:
        dce.set_auth_level(LEVELS[opts.get("rpclevel", "integrity")])
    dce.connect()
    dce.bind(wkst.MSRPC_UUID_WKST)
    print("bind=ok")
    level = int(opts.get("level", "100"))
    if opts.get("tamper") == "1":
        tamper(dce)
    try:
        resp = wkst.hNetrWkstaGetInfo(dce, level)
        code = resp["ErrorCode"]
        info = resp["WkstaInfo"]
        body = info["WkstaInfo%d" % info["tag"]]
        try:
            print("computername=%s" % str(body["wki%d_computername" % info["tag"]]).rstrip("\x00"))
        except Exception:
            pass
    except DCERPCException as e:
        code = e.get_error_code()
    print("code=%#010x" % code)
    dce.disconnect()
    conn.logoff()


def tamper(dce):
    """Flips one byte of the next request's stub after it was signed."""
    send = dce._transport.send

    def tampered(data, *a, **kw):
        b = bytearray(data)
        if len(b) > 28 and b[2] == rpcrt.MSRPC_REQUEST:
            b[24] ^= 0x01  # first stub byte, after the 24-byte request header
        return send(bytes(b), *a, **kw)

    dce._transport.send = tampered


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # reported to the Go test, which decides
        print("error=%s" % e)
        sys.exit(1)
