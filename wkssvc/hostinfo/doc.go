// Package hostinfo reads what this Linux host knows about itself for the
// workstation interface: the users logged on (utmp), the network
// interfaces with an address and their hardware addresses, and the
// counters of the kernel's SMB client (/proc/fs/cifs/Stats).
//
// It only reads: it writes no file, changes no setting and keeps no state
// between calls. A source that does not exist on this host (no utmp, no
// cifs module) reads as empty, never as an error. It knows nothing of RPC
// or NDR types; package wkssvc turns what it reads into answers.
package hostinfo
