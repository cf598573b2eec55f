"""Calls NetrWkstaGetInfo through impacket over SMB and prints what it saw.

usage: impacket_getinfo.py HOST PORT DIALECT USER PASSWORD LEVEL [SYNTAX]
DIALECT is 2.0.2, 2.1 or 3.0; SYNTAX is NDR (default) or NDR64, the
transfer syntax the bind proposes alone. Prints "sessionkey=<hex>" (the key impacket
uses for JOINPR blobs), "dialect=<hex>" and the fields of the answer;
an RPC or SMB error is printed as "error=<text>" with exit code 1.
"""
import sys

from impacket.dcerpc.v5 import transport, wkst
from impacket.smb3structs import SMB2_DIALECT_002, SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.smbconnection import SMBConnection

NDR64 = ("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0")  # MS-RPCE 2.2.5.1
DIALECTS = {"2.0.2": SMB2_DIALECT_002, "2.1": SMB2_DIALECT_21, "3.0": SMB2_DIALECT_30}


def main():
    host, port, dialect, user, password, level = sys.argv[1:7]
    syntax = sys.argv[7] if len(sys.argv) > 7 else "NDR"
    conn = SMBConnection(host, host, sess_port=int(port), preferredDialect=DIALECTS[dialect], timeout=20)
    conn.login(user, password)
    print("dialect=%#x" % conn.getDialect())
    print("sessionkey=%s" % conn.getSessionKey().hex())
    rpc = transport.SMBTransport(host, int(port), filename=r"\wkssvc", smb_connection=conn)
    dce = rpc.get_dce_rpc()
    dce.connect()
    if syntax == "NDR64":
        dce.bind(wkst.MSRPC_UUID_WKST, transfer_syntax=NDR64)
    else:
        dce.bind(wkst.MSRPC_UUID_WKST)
    print("syntax=%s" % syntax)
    resp = wkst.hNetrWkstaGetInfo(dce, int(level))
    info = resp["WkstaInfo"]
    tag = info["tag"]
    body = info["WkstaInfo%d" % tag]
    for field in ("wki%d_platform_id", "wki%d_computername", "wki%d_langroup",
                  "wki%d_ver_major", "wki%d_ver_minor", "wki%d_lanroot", "wki%d_logged_on_users"):
        name = field % tag
        try:
            value = body[name]
        except Exception:
            continue
        print("%s=%s" % (name.split("_", 1)[1], str(value).rstrip("\x00")))
    dce.disconnect()
    conn.logoff()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # reported to the Go test, which decides
        print("error=%s" % e)
        sys.exit(1)
