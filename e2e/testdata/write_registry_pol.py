"""Writes a Registry.pol (MS-GPREG 2.2.1) with Samba's own PReg encoder
(samba.dcerpc.preg), an encoder independent of the one under test.

usage: write_registry_pol.py OUT KEY NAME TYPE VALUE [KEY NAME TYPE VALUE ...]
TYPE is sz or dword."""
import sys

from samba.dcerpc import misc, preg
from samba.ndr import ndr_pack

out, rest = sys.argv[1], sys.argv[2:]
if len(rest) % 4:
    sys.exit("want KEY NAME TYPE VALUE quadruples")
f = preg.file()
f.header.signature = "PReg"
f.header.version = 1
entries = []
for i in range(0, len(rest), 4):
    key, name, typ, value = rest[i:i + 4]
    e = preg.entry()
    e.keyname = key
    e.valuename = name
    if typ == "dword":
        e.type, e.data = misc.REG_DWORD, int(value)
    elif typ == "sz":
        e.type, e.data = misc.REG_SZ, value
    else:
        sys.exit("unknown type " + typ)
    entries.append(e)
f.num_entries = len(entries)
f.entries = entries
with open(out, "wb") as fh:
    fh.write(ndr_pack(f))
