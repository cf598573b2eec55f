// Package sysvol reads files from a domain controller's SYSVOL share over
// SMB2/3 (go-msrpc's SMB client, NTLM in SPNEGO with the credentials of
// the provisioning administrator): the Registry.pol of a group policy
// object (MS-GPOL 2.2.8, MS-GPREG 2.2.1) that an offline join's
// POLICY_PROVIDER part carries. It implements joinlogic.SysvolReader.
//
// It reads only: it never writes to the share, keeps no state and no
// connection beyond one ReadFile call, bounds what it reads, and never
// logs passwords.
package sysvol
