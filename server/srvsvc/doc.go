// Package srvsvc answers the few Server Service (MS-SRVS) calls that
// generic SMB clients make on connect — the share list (`smbclient -L`),
// share and server information — for a server whose only share is IPC$.
//
// It owns nothing else: it never lists, creates or changes shares and
// must not import the SMB layer.
package srvsvc
