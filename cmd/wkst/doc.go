// Command wkst is a client for the Workstation Service Remote Protocol
// (MS-WKST) that joins a remote Linux or Windows host to a domain, unjoins
// it, and shows its workstation and join information:
//
//	wkst join   --server HOST[:PORT] --domain D [--ou OU] [--account A]
//	            [--password-file F|-] [--options FLAGS] [--method 3|2] CONN
//	wkst unjoin --server HOST[:PORT] [--account A] [--password-file F|-]
//	            [--options FLAGS] [--method 3|2] CONN
//	wkst info   --server HOST[:PORT] CONN
//
// where CONN is --user DOMAIN\user|user@domain, the password of that user
// from --user-password-file F|-, the WKST_PASSWORD environment variable or
// a prompt without echo on a terminal, and optionally --dialect
// 2.0.2|2.1|3.0|3.0.2|3.1.1 and --seal. wkst COMMAND --help shows a
// command's flags and defaults; wkst --version the build.
//
// It speaks DCE/RPC over \PIPE\wkssvc on SMB2/3 with NTLM (go-msrpc) and
// encrypts the account password for NetrJoinDomain3/NetrUnjoinDomain3
// (AES, MS-WKST 2.2.5.19) or NetrJoinDomain2/NetrUnjoinDomain2 (RC4,
// MS-WKST 2.2.5.18) with the SMB key of the negotiated dialect. Passwords
// never come from the command line. Exit status: 0 success; 1 a non-zero
// Win32 result (its name and value are printed); 2 usage; 3 the server
// could not be reached or refused the logon (a refusal after repeated
// failures is said in words); 130 interrupted.
//
// wkst provision creates computer accounts over LDAP through joinlogic's
// provisioning (joinlogic/ldapdir, joinlogic/sysvol) and writes offline
// domain join files (package odj); wkst odjinfo reads them.
//
// The command owns only its flag handling and output; the blob formats live
// in package crypto and package odj, the directory work in joinlogic. It
// keeps no local state: no keytab, no membership.
package main
