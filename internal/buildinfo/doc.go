// Package buildinfo says which build of wkssvcd a binary is, for the
// --version of the daemon and the client. It owns nothing else.
//
// The version is, in order: what the linker set with
// -ldflags "-X github.com/wkssvcd/wkssvcd/internal/buildinfo.version=V"
// (scripts/install does, from git describe); the module version when the
// binary was built by `go install module@version`; else "devel" followed by
// the commit and its time from the VCS stamp Go records, when there is one.
package buildinfo
