package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/odj"
)

// The control socket: a Unix socket STATE-DIR/control.sock on which the
// running daemon takes provisioning files from wkssvcd requestodj, so that
// an offline join takes effect in the daemon at once and the state
// directory keeps a single writer. Only root and the daemon's own user may
// connect (the directory is 0700, the socket 0600, and the peer's
// credentials are checked); one request per connection, JSON, bounded.

const (
	controlSocket     = "control.sock"
	maxControlRequest = 2*odj.MaxSavefileSize + 4096 // base64 of the file, and the rest
	controlTimeout    = 2 * time.Minute
)

// controlResponse answers a request.
type controlResponse struct {
	OK     bool       `json:"ok"`
	Result *odjResult `json:"result,omitempty"`
	Error  string     `json:"error,omitempty"`
	Code   uint32     `json:"code,omitempty"` // the joinlogic.Code of the failure, if any
}

// controlRequest is what requestodj sends.
type controlRequest struct {
	Op  string     `json:"op"` // "requestodj"
	ODJ odjRequest `json:"odj"`
}

// controlServer serves the control socket.
type controlServer struct {
	ln      *net.UnixListener
	applier *odjApplier
	log     *slog.Logger
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

// socketPath returns an address for dir's control socket that fits the
// 108 bytes of sun_path: the path itself, or, for a long one, the path
// through an open descriptor of dir (/proc/self/fd/N), with that
// descriptor, which the caller keeps open until bind or connect is done.
func socketPath(dir string) (path string, hold *os.File, err error) {
	p := filepath.Join(dir, controlSocket)
	if len(p) < 100 {
		return p, nil, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + controlSocket, d, nil
}

// startControl listens on the control socket of stateDir; the caller holds
// the state directory's lock, so a socket file left there is stale.
func startControl(stateDir string, applier *odjApplier, log *slog.Logger) (*controlServer, error) {
	path, hold, err := socketPath(stateDir)
	if err != nil {
		return nil, err
	}
	if hold != nil {
		defer hold.Close()
	}
	os.Remove(filepath.Join(stateDir, controlSocket))
	old := syscall.Umask(0o077)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(filepath.Join(stateDir, controlSocket), 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &controlServer{ln: ln, applier: applier, log: log, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *controlServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control socket", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

// close stops taking requests and waits for those in progress.
func (s *controlServer) close() {
	s.ln.Close()
	s.cancel()
	s.wg.Wait()
}

// peerAllowed reports whether the process at the other end of c runs as
// root or as this process's user.
func peerAllowed(c *net.UnixConn) (uint32, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil || cred == nil {
		return 0, false
	}
	return cred.Uid, cred.Uid == 0 || int(cred.Uid) == os.Geteuid()
}

func (s *controlServer) handle(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))
	reply := func(r controlResponse) {
		if err := json.NewEncoder(c).Encode(r); err != nil {
			s.log.Warn("control socket: answering", "err", err)
		}
	}
	uid, ok := peerAllowed(c)
	if !ok {
		s.log.Warn("control socket: refused a connection", "uid", uid)
		reply(controlResponse{Error: "permission denied"})
		return
	}
	var req controlRequest
	dec := json.NewDecoder(io.LimitReader(c, maxControlRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		reply(controlResponse{Error: "bad request: " + err.Error()})
		return
	}
	if req.Op != "requestodj" {
		reply(controlResponse{Error: fmt.Sprintf("unknown operation %q", req.Op)})
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, controlTimeout)
	defer cancel()
	res, err := s.applier.apply(ctx, req.ODJ)
	if err != nil {
		r := controlResponse{Error: err.Error()}
		var code joinlogic.Code
		if errors.As(err, &code) {
			r.Code = uint32(code)
		}
		reply(r)
		return
	}
	reply(controlResponse{OK: true, Result: res})
}

// sendToDaemon hands req to the daemon that holds stateDir.
func sendToDaemon(ctx context.Context, stateDir string, req odjRequest) (*odjResult, error) {
	path, hold, err := socketPath(stateDir)
	if err != nil {
		return nil, err
	}
	if hold != nil {
		defer hold.Close()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("the daemon's control socket %s does not answer: %w", filepath.Join(stateDir, controlSocket), err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(controlTimeout))
	if err := json.NewEncoder(c).Encode(controlRequest{Op: "requestodj", ODJ: req}); err != nil {
		return nil, fmt.Errorf("sending the file to the daemon: %w", err)
	}
	var resp controlResponse
	if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if !resp.OK {
		err := errors.New(resp.Error)
		if resp.Code != 0 {
			err = fmt.Errorf("%w (%s)", joinlogic.Code(resp.Code), resp.Error)
		}
		return nil, err
	}
	return resp.Result, nil
}

// startODJControl settles the offline join files a crash left, has them
// follow the membership (an unjoin removes them) and takes requestodj's
// files on the control socket of the running daemon d.
func startODJControl(cfg *config, d *daemon, logger *slog.Logger) (*controlServer, error) {
	log := logger.With("component", "odj")
	if err := settleODJArtifacts(cfg.StateDir, d.store); err != nil {
		log.Warn("offline join files", "err", err)
	}
	followMembership(cfg.StateDir, d.store, log)
	a := &odjApplier{joiner: d.joiner, store: d.store, stateDir: cfg.StateDir, keytab: cfg.Keytab, log: log,
		by: fmt.Sprintf("the running daemon (pid %d)", os.Getpid())}
	return startControl(cfg.StateDir, a, log)
}
