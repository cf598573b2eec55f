package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/wkssvcd/wkssvcd/bench"
)

// runFloorServer serves the floor (bench.ServeFloor) until interrupted:
// the bare TCP server `wkload bench --floor` measures beside the servers.
func runFloorServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload floor-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "`ADDR:PORT` to listen on (required)")
	mode := fs.String("mode", "goroutine", "how a connection waits for requests: goroutine (Go's net package) or thread (an OS thread blocked in read(2))")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *listen == "" {
		return usageError{fmt.Errorf("floor-server: --listen is required")}
	}
	m, err := bench.ParseFloorMode(*mode)
	if err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "floor (%v) listening on %s\n", m, ln.Addr())
	return bench.ServeFloor(ctx, ln, m)
}

// floorFlags describe the floor servers `wkload bench` and `wkload calls`
// measure.
type floorFlags struct {
	addrs [2]*string
	pids  [2]*int
}

var floorModes = [2]string{"goroutine", "thread"}

func addFloorFlags(fs *flag.FlagSet) floorFlags {
	var f floorFlags
	for i, m := range floorModes {
		f.addrs[i] = fs.String("floor-"+m, "", "`ADDR:PORT` of a `wkload floor-server --mode "+m+"` to measure on every lean case (none when empty)")
		f.pids[i] = fs.Int("floor-"+m+"-pid", 0, "`PID` of that floor server (required with --floor-"+m+")")
	}
	return f
}

// servers returns the floor servers given.
func (f floorFlags) servers() ([]bench.Server, error) {
	var out []bench.Server
	for i, m := range floorModes {
		if *f.addrs[i] == "" {
			continue
		}
		host, port, err := net.SplitHostPort(*f.addrs[i])
		if err != nil {
			return nil, usageError{fmt.Errorf("--floor-%s: %v", m, err)}
		}
		p, err := net.LookupPort("tcp", port)
		if err != nil {
			return nil, usageError{fmt.Errorf("--floor-%s: %v", m, err)}
		}
		if *f.pids[i] <= 0 {
			return nil, usageError{fmt.Errorf("--floor-%s-pid is required with --floor-%s", m, m)}
		}
		out = append(out, bench.Server{Target: bench.Target{Name: "floor (" + m + ")", Host: host, Port: p}, PID: *f.pids[i]})
	}
	return out, nil
}
