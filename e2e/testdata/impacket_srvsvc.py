"""Calls the srvsvc methods smbclient and net view use, through impacket.

usage: impacket_srvsvc.py HOST PORT USER PASSWORD SYNTAX
SYNTAX is NDR or NDR64 (proposed alone in the bind). Prints
"share=<name> type=<hex>" per share of NetrShareEnum level 1,
"server=<name>" from NetrServerGetInfo level 101 and
"getinfo_ipc=<type>" from NetrShareGetInfo; errors as "error=<text>".
"""
import sys

from impacket.dcerpc.v5 import srvs, transport
from impacket.smbconnection import SMBConnection

NDR64 = ("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0")  # MS-RPCE 2.2.5.1


def main():
    host, port, user, password, syntax = sys.argv[1:6]
    conn = SMBConnection(host, host, sess_port=int(port), timeout=20)
    conn.login(user, password)
    rpc = transport.SMBTransport(host, int(port), filename=r"\srvsvc", smb_connection=conn)
    dce = rpc.get_dce_rpc()
    dce.connect()
    if syntax == "NDR64":
        dce.bind(srvs.MSRPC_UUID_SRVS, transfer_syntax=NDR64)
    else:
        dce.bind(srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 1)
    for share in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]:
        print("share=%s type=%#x" % (share["shi1_netname"].rstrip("\x00"), share["shi1_type"]))
    resp = srvs.hNetrServerGetInfo(dce, 101)
    print("server=%s" % resp["InfoStruct"]["ServerInfo101"]["sv101_name"].rstrip("\x00"))
    resp = srvs.hNetrShareGetInfo(dce, "IPC$", 1)
    print("getinfo_ipc=%#x" % resp["InfoStruct"]["ShareInfo1"]["shi1_type"])
    dce.disconnect()
    conn.logoff()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # reported to the Go test, which decides
        print("error=%s" % e)
        sys.exit(1)
