"""Calls every method of impacket 0.10's wkst module on one pipe and prints
the Win32 code each returned, for a table of opnum x caller x syntax.

usage: impacket_wkst.py HOST PORT DIALECT USER PASSWORD SYNTAX
DIALECT is 2.1 or 3.0 (3.0 means AES-128-CCM, as impacket turns
encryption on whenever the server offers it); USER "" logs on anonymously;
SYNTAX is NDR or NDR64, proposed alone in the bind.

Each call prints one line "call=NAME code=0x%08x" followed by what it
saw ("names=", "total=", ...). The helpers (hNetr*) are impacket's own;
the calls impacket has no helper for use its request classes, and
NetrWkstaTransportDel, which it lacks, is defined here. No call changes
the membership: the join, unjoin and rename calls carry a password blob
of zeros, which no key decrypts.
"""
import sys

from impacket.dcerpc.v5 import transport, wkst
from impacket.dcerpc.v5.dtypes import LPULONG, LPWSTR, NULL, ULONG
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smb3structs import SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.smbconnection import SMBConnection

NDR64 = ("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0")  # MS-RPCE 2.2.5.1
DIALECTS = {"2.1": SMB2_DIALECT_21, "3.0": SMB2_DIALECT_30}


# impacket 0.10 declares the ResumeHandle of the NetrWkstaUserEnum and
# NetrWkstaTransportEnum responses as a ULONG, while the IDL (MS-WKST 6) has
# an [in, out, unique] pointer, which its own requests send non-NULL. Any
# server's answer then decodes wrongly whenever the pointer is not where a
# ULONG would be (at NDR64, when TotalEntries ends off an 8-byte boundary),
# Windows' as much as this one's: impacket reads part of the referent id as
# the return value. Its NetrUseEnum response has it right. The two are
# corrected here, the helpers themselves unchanged.
wkst.NetrWkstaUserEnumResponse.structure = (
    ("UserInfo", wkst.WKSTA_USER_ENUM_STRUCT),
    ("TotalEntries", ULONG),
    ("ResumeHandle", LPULONG),
    ("ErrorCode", ULONG),
)
wkst.NetrWkstaTransportEnumResponse.structure = (
    ("TransportInfo", wkst.WKSTA_TRANSPORT_ENUM_STRUCT),
    ("TotalEntries", ULONG),
    ("ResumeHandle", LPULONG),
    ("ErrorCode", ULONG),
)


class DCERPCSessionError(DCERPCException):
    """impacket raises the DCERPCSessionError of the module that defines a
    call for its non-zero return; this one's, for NetrWkstaTransportDel."""

    def __init__(self, error_string=None, error_code=None, packet=None):
        DCERPCException.__init__(self, error_string, error_code, packet)


# MS-WKST 3.2.4.6, which impacket 0.10 does not define.
class NetrWkstaTransportDel(NDRCALL):
    opnum = 7
    structure = (
        ("ServerName", LPWSTR),
        ("TransportName", LPWSTR),
        ("ForceLevel", ULONG),
    )


class NetrWkstaTransportDelResponse(NDRCALL):
    structure = (("ErrorCode", ULONG),)


def code_of(e):
    c = e.get_error_code()
    return c if c is not None else 0xFFFFFFFF


def call(name, fn):
    try:
        resp = fn()
    except DCERPCException as e:
        print("call=%s code=0x%08x" % (name, code_of(e) & 0xFFFFFFFF))
        return None
    code = 0
    try:
        code = resp["ErrorCode"]
    except Exception:
        pass
    print("call=%s code=0x%08x" % (name, code))
    return resp


def zero_blob():
    return b"\x00" * 524


def main():
    host, port, dialect, user, password, syntax = sys.argv[1:7]
    conn = SMBConnection(host, host, sess_port=int(port), preferredDialect=DIALECTS[dialect], timeout=30)
    conn.login(user, password)
    rpc = transport.SMBTransport(host, int(port), filename=r"\wkssvc", smb_connection=conn)
    dce = rpc.get_dce_rpc()
    dce.connect()
    if syntax == "NDR64":
        dce.bind(wkst.MSRPC_UUID_WKST, transfer_syntax=NDR64)
    else:
        dce.bind(wkst.MSRPC_UUID_WKST)

    for level in (100, 101, 102, 502):
        call("NetrWkstaGetInfo/%d" % level, lambda: wkst.hNetrWkstaGetInfo(dce, level))

    info = wkst.WKSTA_INFO_502()
    info["wki502_keep_conn"] = 600
    info["wki502_max_cmds"] = 50
    info["wki502_sess_timeout"] = 60
    info["wki502_dormant_file_limit"] = 1023
    call("NetrWkstaSetInfo/502", lambda: wkst.hNetrWkstaSetInfo(dce, 502, info))
    bad = wkst.WKSTA_INFO_1013()
    bad["wki1013_keep_conn"] = 0
    call("NetrWkstaSetInfo/1013-out-of-range", lambda: wkst.hNetrWkstaSetInfo(dce, 1013, bad))

    for level in (0, 1):
        resp = call("NetrWkstaUserEnum/%d" % level, lambda: wkst.hNetrWkstaUserEnum(dce, level))
        if resp is not None:
            buf = resp["UserInfo"]["WkstaUserInfo"]["Level%d" % level]["Buffer"]
            names = sorted(u["wkui%d_username" % level].rstrip("\x00") for u in buf)
            print("users/%d=%s total=%d" % (level, ",".join(names), resp["TotalEntries"]))

    resp = call("NetrWkstaTransportEnum/0", lambda: wkst.hNetrWkstaTransportEnum(dce, 0))
    if resp is not None:
        buf = resp["TransportInfo"]["WkstaTransportInfo"]["Level0"]["Buffer"]
        for t in buf:
            print("transport=%s address=%s vcs=%d" % (t["wkti0_transport_name"].rstrip("\x00"),
                                                      t["wkti0_transport_address"].rstrip("\x00"), t["wkti0_number_of_vcs"]))

    def transport_add():
        req = wkst.NetrWkstaTransportAdd()
        req["ServerName"] = "\x00" * 10
        req["Level"] = 0
        req["TransportInfo"]["wkti0_transport_name"] = "BETO\x00"
        req["TransportInfo"]["wkti0_transport_address"] = "000C29BC5CE5\x00"
        return dce.request(req)
    call("NetrWkstaTransportAdd", transport_add)

    def transport_del():
        req = NetrWkstaTransportDel()
        req["ServerName"] = "\x00" * 10
        req["TransportName"] = "BETO\x00"
        req["ForceLevel"] = wkst.USE_LOTS_OF_FORCE
        return dce.request(req)
    call("NetrWkstaTransportDel", transport_del)

    use = wkst.USE_INFO_1()
    use["ui1_local"] = "X:\x00"
    use["ui1_remote"] = "\\\\server\\share\x00"
    use["ui1_password"] = NULL
    call("NetrUseAdd/1", lambda: wkst.hNetrUseAdd(dce, 1, use))
    call("NetrUseGetInfo/0", lambda: wkst.hNetrUseGetInfo(dce, "X:", 0))
    call("NetrUseDel", lambda: wkst.hNetrUseDel(dce, "X:"))
    resp = call("NetrUseEnum/2", lambda: wkst.hNetrUseEnum(dce, 2))
    if resp is not None:
        print("uses=%d" % resp["TotalEntries"])

    resp = call("NetrWorkstationStatisticsGet", lambda: wkst.hNetrWorkstationStatisticsGet(dce, "\x00", 0, 0))
    if resp is not None:
        print("stats_start=%d" % resp["Buffer"]["StatisticsStartTime"])
    call("NetrWorkstationStatisticsGet/level1", lambda: wkst.hNetrWorkstationStatisticsGet(dce, "\x00", 1, 0))

    resp = call("NetrGetJoinInformation", lambda: wkst.hNetrGetJoinInformation(dce, "\x00"))
    if resp is not None:
        print("join=%s type=%d" % (resp["NameBuffer"].rstrip("\x00"), resp["BufferType"]))

    call("NetrJoinDomain2", lambda: wkst.hNetrJoinDomain2(dce, "example.test", NULL, NULL, zero_blob(), 3))
    call("NetrUnjoinDomain2", lambda: wkst.hNetrUnjoinDomain2(dce, NULL, zero_blob(), wkst.NETSETUP_ACCT_DELETE))
    call("NetrRenameMachineInDomain2", lambda: wkst.hNetrRenameMachineInDomain2(dce, "NEWNAME", NULL, zero_blob(), wkst.NETSETUP_ACCT_CREATE))
    call("NetrValidateName2", lambda: wkst.hNetrValidateName2(dce, "LABGROUP", NULL, NULL, wkst.NETSETUP_NAME_TYPE.NetSetupWorkgroup))
    call("NetrGetJoinableOUs2", lambda: wkst.hNetrGetJoinableOUs2(dce, "example.test", NULL, NULL, 0))
    call("NetrAddAlternateComputerName", lambda: wkst.hNetrAddAlternateComputerName(dce, "bad name", NULL, NULL))
    call("NetrRemoveAlternateComputerName", lambda: wkst.hNetrRemoveAlternateComputerName(dce, "absent.example.test", NULL, NULL))
    call("NetrSetPrimaryComputerName", lambda: wkst.hNetrSetPrimaryComputerName(dce, "absent.example.test", NULL, NULL))
    resp = call("NetrEnumerateComputerNames", lambda: wkst.hNetrEnumerateComputerNames(dce, wkst.NET_COMPUTER_NAME_TYPE.NetAllComputerNames))
    if resp is not None:
        names = [n["Data"].rstrip("\x00") for n in resp["ComputerNames"]["ComputerNames"]]
        print("computer_names=%s count=%d" % (",".join(names), resp["ComputerNames"]["EntriesRead"]))

    dce.disconnect()
    conn.logoff()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # reported to the Go test, which decides
        print("error=%s" % e)
        sys.exit(1)
