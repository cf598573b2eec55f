package main

import (
	"flag"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/smb2"
)

// limits are the resource bounds of the daemon, each a flag. A zero value
// means the package default, which the flag help states.
type limits struct {
	MaxConnections int
}

func (l *limits) register(fs *flag.FlagSet) {
	fs.IntVar(&l.MaxConnections, "max-connections", 0, "most simultaneous SMB connections; more are closed at once (default 1024)")
}

// apply copies the limits into the server configurations.
func (l *limits) apply(s *smb2.Config, r *dcerpc.Config) {
	s.MaxConnections = l.MaxConnections
}
