// Package kerberos is the Kerberos V5 acceptor of a domain member (RFC
// 4120, RFC 4121, MS-KILE 3.4, MS-PAC): a mechanism registered with the
// SPNEGO acceptor (server/spnego), also usable on its own for DCE-style
// RPC authentication.
//
// It owns AP-REQ verification with the machine account's keys (every key
// version the keytab holds), the ticket's and authenticator's time checks,
// the replay cache, the GSS checksum (flags, DCE style), the PAC (server
// signature checked with the machine key, client information matched with
// the ticket, the caller's SIDs taken from the logon information), the
// mutual-authentication AP-REP with its subkey, the session key handed to
// the SMB layer, and the GSS MIC tokens of the mechListMIC exchange.
//
// It reads keys through a KeySource (KeytabKeys reads the machine keytab
// file and follows its changes) and must not write them, touch the
// transport, decide authorization (that is ipc.Identity.Admin, set by
// whoever registers the mechanism), or log keys or tickets.
package kerberos
