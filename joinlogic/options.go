package joinlogic

// NETSETUP option bits of NetrJoinDomain2/3 and NetrUnjoinDomain2/3
// (MS-WKST 3.2.4.13, 3.2.4.14, 3.2.4.22, 3.2.4.23).
const (
	NETSETUP_JOIN_DOMAIN              uint32 = 0x00000001
	NETSETUP_ACCT_CREATE              uint32 = 0x00000002
	NETSETUP_ACCT_DELETE              uint32 = 0x00000004
	NETSETUP_WIN9X_UPGRADE            uint32 = 0x00000010
	NETSETUP_DOMAIN_JOIN_IF_JOINED    uint32 = 0x00000020
	NETSETUP_JOIN_UNSECURE            uint32 = 0x00000040
	NETSETUP_MACHINE_PWD_PASSED       uint32 = 0x00000080
	NETSETUP_DEFER_SPN_SET            uint32 = 0x00000100
	NETSETUP_JOIN_DC_ACCOUNT          uint32 = 0x00000200
	NETSETUP_JOIN_WITH_NEW_NAME       uint32 = 0x00000400
	NETSETUP_JOIN_READONLY            uint32 = 0x00000800
	NETSETUP_DNS_NAME_CHANGES_ONLY    uint32 = 0x00001000
	NETSETUP_INSTALL_INVOCATION       uint32 = 0x00040000
	NETSETUP_IGNORE_UNSUPPORTED_FLAGS uint32 = 0x10000000
)

// NETSETUP_JOIN_STATUS values (MS-WKST 2.2.3.1), returned by
// Joiner.JoinInformation.
const (
	NetSetupUnknownStatus uint32 = 0
	NetSetupUnjoined      uint32 = 1
	NetSetupWorkgroupName uint32 = 2
	NetSetupDomainName    uint32 = 3
)

// NETSETUP_NAME_TYPE values (MS-WKST 2.2.3.2), the NameType of
// NetrValidateName2/3.
const (
	NetSetupUnknown           uint32 = 0
	NetSetupMachine           uint32 = 1
	NetSetupWorkgroup         uint32 = 2
	NetSetupDomain            uint32 = 3
	NetSetupNonExistentDomain uint32 = 4
	NetSetupDnsMachine        uint32 = 5
)

// userAccountControl bits used on computer objects (MS-ADTS 2.2.16).
const (
	UF_ACCOUNTDISABLE            uint32 = 0x00000002
	UF_WORKSTATION_TRUST_ACCOUNT uint32 = 0x00001000
	UF_SERVER_TRUST_ACCOUNT      uint32 = 0x00002000
)

// OptionNames names the NETSETUP_* bits, without the prefix, in bit
// order: the one table the server's logs, the wkst client's --options and
// the tests share.
var OptionNames = []struct {
	Name string
	Bit  uint32
}{
	{"JOIN_DOMAIN", NETSETUP_JOIN_DOMAIN},
	{"ACCT_CREATE", NETSETUP_ACCT_CREATE},
	{"ACCT_DELETE", NETSETUP_ACCT_DELETE},
	{"WIN9X_UPGRADE", NETSETUP_WIN9X_UPGRADE},
	{"DOMAIN_JOIN_IF_JOINED", NETSETUP_DOMAIN_JOIN_IF_JOINED},
	{"JOIN_UNSECURE", NETSETUP_JOIN_UNSECURE},
	{"MACHINE_PWD_PASSED", NETSETUP_MACHINE_PWD_PASSED},
	{"DEFER_SPN_SET", NETSETUP_DEFER_SPN_SET},
	{"JOIN_DC_ACCOUNT", NETSETUP_JOIN_DC_ACCOUNT},
	{"JOIN_WITH_NEW_NAME", NETSETUP_JOIN_WITH_NEW_NAME},
	{"JOIN_READONLY", NETSETUP_JOIN_READONLY},
	{"DNS_NAME_CHANGES_ONLY", NETSETUP_DNS_NAME_CHANGES_ONLY},
	{"INSTALL_INVOCATION", NETSETUP_INSTALL_INVOCATION},
	{"IGNORE_UNSUPPORTED_FLAGS", NETSETUP_IGNORE_UNSUPPORTED_FLAGS},
}

// NET_IGNORE_UNSUPPORTED_FLAGS is the only defined bit of the Reserved
// parameter of the computer-name methods (MS-WKST 3.2.4.18–3.2.4.21): with
// it set the other bits are ignored, without it they MUST be 0.
const NET_IGNORE_UNSUPPORTED_FLAGS uint32 = 0x00000001

// NET_COMPUTER_NAME_TYPE values (MS-WKST 2.2.3.3), the NameType of
// NetrEnumerateComputerNames.
const (
	NetPrimaryComputerName    uint32 = 0
	NetAlternateComputerNames uint32 = 1
	NetAllComputerNames       uint32 = 2
	NetComputerNameTypeMax    uint32 = 3
)
