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
// from --user-password-file F|- or the WKST_PASSWORD environment variable,
// and optionally --dialect 2.0.2|2.1|3.0|3.0.2|3.1.1 and --seal.
//
// It speaks DCE/RPC over \PIPE\wkssvc on SMB2/3 with NTLM (go-msrpc) and
// encrypts the account password for NetrJoinDomain3/NetrUnjoinDomain3
// (AES, MS-WKST 2.2.5.19) or NetrJoinDomain2/NetrUnjoinDomain2 (RC4,
// MS-WKST 2.2.5.18) with the SMB key of the negotiated dialect. Passwords
// never come from the command line. On a non-zero Win32 result it prints
// the code's name and value and exits with status 1; usage errors exit 2.
//
// The command owns only its flag handling and output; the blob formats live
// in package crypto.
package main
