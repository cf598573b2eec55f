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
