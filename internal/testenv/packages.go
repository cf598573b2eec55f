package testenv

// Programs names the Debian package that installs each program the tests
// (and the scripts and shell snippets they run) execute. scripts/test
// installs every package named here; TestPackagesComplete checks both
// that each is in its list and, with dpkg -S, that the package really
// owns the program on this machine. Essential packages are named too: a
// minimal image may lack what a full system has.
var Programs = map[string]string{
	// Samba: the test DC, a peer server, its clients and tools.
	"samba": "samba", "smbd": "samba", "smbcontrol": "samba",
	"samba-tool": "samba-common-bin", "net": "samba-common-bin", "smbpasswd": "samba-common-bin", "testparm": "samba-common-bin",
	"rpcclient": "smbclient", "smbclient": "smbclient",
	"ntlm_auth": "winbind",
	"ndrdump":   "samba-testsuite", "smbtorture": "samba-testsuite",
	"tdbdump":   "tdb-tools",
	"ldbsearch": "ldb-tools", "ldbmodify": "ldb-tools",
	"ldapsearch": "ldap-utils",
	// Kerberos clients.
	"kinit": "krb5-user", "klist": "krb5-user", "ktutil": "krb5-user", "kvno": "krb5-user",
	// Independent cryptography, trust store.
	"openssl":                "openssl",
	"update-ca-certificates": "ca-certificates",
	// systemd unit checks, packaging, the compose file.
	"systemd-analyze": "systemd", "systemd-sysusers": "systemd", "systemctl": "systemd",
	"docker-compose": "docker-compose",
	// Addresses, ports, processes, namespaces, accounts.
	"ip": "iproute2", "ss": "iproute2",
	"ps":      "procps",
	"unshare": "util-linux", "nsenter": "util-linux", "utmpdump": "util-linux", "mount": "mount",
	"useradd": "passwd", "getent": "libc-bin",
	"git": "git",
	// Shell and basic tools of the scripts.
	"sh": "dash", "bash": "bash", "cp": "coreutils", "who": "coreutils", "install": "coreutils",
	"id": "coreutils", "od": "coreutils", "tr": "coreutils", "mktemp": "coreutils",
	"sed": "sed", "grep": "grep", "awk": "mawk",
}

// PythonPackages names the Debian package of each top-level module that
// the tests' Python code (run by Python) imports.
var PythonPackages = map[string]string{
	"impacket":     "python3-impacket",
	"Cryptodome":   "python3-pycryptodome",
	"cryptography": "python3-cryptography",
	"samba":        "python3-samba",
}
