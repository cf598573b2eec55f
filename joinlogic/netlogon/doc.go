// Package netlogon is the Netlogon secure channel of a domain member
// (MS-NRPC 3.1.4, 3.4): NetrServerReqChallenge and NetrServerAuthenticate3
// with AES and the machine account's password, then a sealed Netlogon
// (schannel) RPC association to the domain controller over ncacn_ip_tcp.
//
// Over it, it validates NTLM network logons for the SMB server
// (NetrLogonSamLogonEx, MS-APDS 3.1.5.1: NTLM pass-through), changes the
// machine password (NetrServerPasswordSet2, MS-NRPC 3.4.5.2.5) and proves
// that the stored secret still works (testjoin). It keeps one channel and
// builds a new one when the DC or the password changed; a refused current
// password is retried with the previous one, the state a password change
// cut short leaves.
//
// It owns no local state: the machine password comes from the membership
// through a function, and it never logs passwords, responses or keys. It
// must not import the SMB, NTLM or RPC server packages: they reach it
// through small interfaces.
package netlogon
