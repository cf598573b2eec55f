// Command wkssvcd serves the Workstation Service Remote Protocol (MS-WKST)
// over SMB2/3 named pipes so that remote-management tools can query this
// host and join it to a workgroup or an Active Directory domain.
//
// It owns the assembly only: flags fill one config, and newDaemon wires the
// SMB front (server/smb2, server/ntlm), the RPC runtime (server/dcerpc),
// the interface adapters (wkssvc, server/srvsvc) and the join state
// machine (joinlogic with its LDAP directory and keytab store). Protocol
// and join behaviour belong to those packages, not here.
//
// With no flags it listens on 127.0.0.1:1445 with a default state
// directory; see -h for the flags.
package main
