# Test client for the smb2 package: drives impacket's SMBConnection against
# the server and prints one JSON object with what it observed.
import json
import sys

from impacket.smbconnection import SMBConnection, SessionError
from impacket import smb3structs

port, dialect, user, password, domain, pipe, share = sys.argv[1:8]
dialect = int(dialect, 16)
out = {}
try:
    pref = None if dialect == 0 else dialect
    conn = SMBConnection('TESTSRV', '127.0.0.1', sess_port=int(port), preferredDialect=pref)
    out['dialect'] = conn.getDialect()
    conn.login(user, password, domain)
    out['session_key'] = conn.getSessionKey().hex()
    tid = conn.connectTree(share)
    fid = conn.openFile(tid, pipe, desiredAccess=0x12019f, creationOption=0x40, fileAttributes=0x80)
    replies = []
    for i in range(3):
        msg = ('hello %d' % i).encode()
        conn.writeFile(tid, fid, msg)
        replies.append(conn.readFile(tid, fid, 0, 4096).decode())
    out['replies'] = replies
    conn.closeFile(tid, fid)
    conn.disconnectTree(tid)
    conn.logoff()
    out['ok'] = True
except SessionError as e:
    out['error'] = e.getErrorCode()
except Exception as e:
    out['exception'] = repr(e)
print(json.dumps(out))
