package bench

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"

	"github.com/wkssvcd/wkssvcd/internal/smbraw"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// The floor: a bare TCP server that answers each Direct TCP frame
// (MS-SMB2 2.1) with a frame of the length the measured server answers
// that request with, without parsing, signing, encryption or RPC. The lean
// generator runs its same loop against it, checking only framing and
// lengths. What the floor costs per call is what any server pays on this
// machine for the same messages over the same sockets: a server's own
// cost is what it needs beyond that.

// FloorMode is how the floor server waits for a connection's requests.
type FloorMode int

const (
	// FloorGoroutine serves each connection on a goroutine with Go's net
	// package (the network poller): what any Go server pays.
	FloorGoroutine FloorMode = iota
	// FloorThread serves each connection on an OS thread of its own,
	// blocked in read(2) on a blocking socket: what a C server with a
	// thread per connection pays.
	FloorThread
)

func (m FloorMode) String() string {
	if m == FloorThread {
		return "thread"
	}
	return "goroutine"
}

// ParseFloorMode reads "goroutine" (or "go") and "thread".
func ParseFloorMode(s string) (FloorMode, error) {
	switch s {
	case "goroutine", "go":
		return FloorGoroutine, nil
	case "thread":
		return FloorThread, nil
	}
	return 0, fmt.Errorf("floor mode %q is neither goroutine nor thread", s)
}

// FloorShape is the lengths (without the Direct TCP header) of the
// measured server's answers to one case's requests, which the floor
// answers with, and the signing algorithm the generator signs with.
type FloorShape struct {
	// SignAlg is the session's signing algorithm.
	SignAlg uint16
	// Resp answers the call's first request (WRITE or IOCTL); ReadResp
	// the READ of WRITE+READ and pipelined calls.
	Resp, ReadResp int
}

// expect is an answer a floor client awaits.
type expect struct {
	mid uint64
	n   int
}

// floorMagic starts the first frame a floor client sends: the table of
// request lengths and answer lengths, then uint32 pairs.
const floorMagic = "WKFLOOR\x00"

// maxFloorFrame bounds the frames a floor server accepts.
const maxFloorFrame = 16 << 10

// ProbeShape makes one call of the case (seal, io) to t with the lean
// generator and returns the lengths of t's answers.
func ProbeShape(ctx context.Context, t Target, seal bool, io PipeIO) (FloorShape, error) {
	c, err := DialLean(ctx, t, LeanOptions{Seal: seal, IO: io})
	if err != nil {
		return FloorShape{}, err
	}
	defer c.Close(ctx)
	if err := c.GetInfo(ctx); err != nil {
		return FloorShape{}, err
	}
	s := c.shape
	s.SignAlg = c.raw.SignAlg
	return s, nil
}

// DialFloor connects a lean client to the floor server at t, which then
// answers its requests with frames of shape's lengths. The client signs
// or seals with random keys, as against a real server, and checks only
// the framing and length of the answers.
func DialFloor(ctx context.Context, t Target, shape FloorShape, opts LeanOptions) (*LeanClient, error) {
	d := net.Dialer{Timeout: CallTimeout}
	nc, err := d.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", t.Name, err)
	}
	c := &LeanClient{raw: smbraw.New(nc), conn: nc, opts: opts, floor: &shape}
	if err := c.floorSetup(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return c, nil
}

func (c *LeanClient) floorSetup() error {
	r := c.raw
	var key [16]byte
	rand.Read(key[:])
	var sid [8]byte
	rand.Read(sid[:])
	r.SessionID, r.TreeID, r.MsgID = binary.LittleEndian.Uint64(sid[:]), 1, 5
	var err error
	if c.signer, err = smbcrypto.NewSigner(c.floor.SignAlg, key[:]); err != nil {
		return err
	}
	if c.opts.Seal {
		blk, err := aes.NewCipher(key[:])
		if err != nil {
			return err
		}
		if c.enc, err = cipher.NewGCM(blk); err != nil {
			return err
		}
		rand.Read(c.nonce[:8])
	}
	c.callID = 1
	c.templates(smbraw.FileID{})
	c.credits = 1 << 30 // a floor grants no credits and needs none
	c.buffers()
	over := 0
	if c.opts.Seal {
		over = transformLen
	}
	hello := []byte(floorMagic)
	hello = le.AppendUint32(hello, uint32(len(c.req)+over))
	hello = le.AppendUint32(hello, uint32(c.floor.Resp))
	if c.read != nil {
		hello = le.AppendUint32(hello, uint32(len(c.read)+over))
		hello = le.AppendUint32(hello, uint32(c.floor.ReadResp))
	}
	frame := append([]byte{0, 0, 0, byte(len(hello))}, hello...)
	if err := c.armDeadline(); err != nil {
		return err
	}
	if _, err := c.conn.Write(frame); err != nil {
		return err
	}
	if c.opts.Blocking {
		return c.blockingFD()
	}
	return nil
}

// ServeFloor serves floor connections from ln until ctx ends, then closes
// ln and every connection and returns once they are gone.
func ServeFloor(ctx context.Context, ln net.Listener, mode FloorMode) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]int{} // the socket, for shutdown(2) of threads blocked in read(2)
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for nc, fd := range conns {
			if fd >= 0 {
				syscall.Shutdown(fd, syscall.SHUT_RDWR)
			}
			nc.Close()
		}
	})
	defer stop()
	var err error
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			nc.Close()
			break
		}
		conns[nc] = -1
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveFloorConn(nc, mode, func(fd int) {
				mu.Lock()
				conns[nc] = fd
				mu.Unlock()
			})
			mu.Lock()
			delete(conns, nc)
			mu.Unlock()
			nc.Close()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// serveFloorConn answers one connection's frames until it closes or sends
// something that is not a frame of the table it announced. Every frame
// that one read brought is answered by one write.
func serveFloorConn(nc net.Conn, mode FloorMode, onFD func(int)) error {
	read, write := nc.Read, func(b []byte) error { _, err := nc.Write(b); return err }
	if mode == FloorThread {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := blockingSocket(nc)
		if err != nil {
			return err
		}
		onFD(fd)
		read = func(b []byte) (int, error) {
			for {
				n, err := syscall.Read(fd, b)
				if err == syscall.EINTR {
					continue
				}
				if err == nil && n == 0 {
					return 0, io.EOF
				}
				return n, err
			}
		}
		write = func(b []byte) error {
			for len(b) > 0 {
				n, err := syscall.Write(fd, b)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					return err
				}
				b = b[n:]
			}
			return nil
		}
	}
	in := make([]byte, 2*(frameHdr+maxFloorFrame))
	out := make([]byte, 0, 2*(frameHdr+maxFloorFrame))
	var table [][2]int
	end := 0
	for {
		n, err := read(in[end:])
		if err != nil {
			return err
		}
		end += n
		off := 0
		out = out[:0]
		for end-off >= frameHdr {
			if in[off] != 0 {
				return errors.New("floor: not a Direct TCP frame")
			}
			fl := frameLen(in[off:])
			if fl > maxFloorFrame {
				return fmt.Errorf("floor: %d-byte frame", fl)
			}
			if end-off < frameHdr+fl {
				break
			}
			f := in[off+frameHdr : off+frameHdr+fl]
			off += frameHdr + fl
			if table == nil {
				if table, err = floorTable(f); err != nil {
					return err
				}
				continue
			}
			ans := -1
			for _, e := range table {
				if e[0] == fl {
					ans = e[1]
				}
			}
			if ans < 0 || len(out)+frameHdr+ans > cap(out) {
				return fmt.Errorf("floor: a %d-byte request is not in the table", fl)
			}
			// The answer's bytes are whatever the buffer held: only its
			// framing and length count.
			o := len(out)
			out = out[:o+frameHdr+ans]
			out[o], out[o+1], out[o+2], out[o+3] = 0, byte(ans>>16), byte(ans>>8), byte(ans)
		}
		end = copy(in, in[off:end])
		if len(out) > 0 {
			if err := write(out); err != nil {
				return err
			}
		}
	}
}

// floorTable reads the first frame of a floor connection.
func floorTable(f []byte) ([][2]int, error) {
	if len(f) < len(floorMagic) || string(f[:len(floorMagic)]) != floorMagic || (len(f)-len(floorMagic))%8 != 0 || len(f) > len(floorMagic)+8*8 {
		return nil, errors.New("floor: the first frame is not a table of lengths")
	}
	var t [][2]int
	for b := f[len(floorMagic):]; len(b) >= 8; b = b[8:] {
		req, ans := int(le.Uint32(b)), int(le.Uint32(b[4:]))
		if req > maxFloorFrame || ans > maxFloorFrame {
			return nil, fmt.Errorf("floor: lengths %d, %d out of range", req, ans)
		}
		t = append(t, [2]int{req, ans})
	}
	return t, nil
}

// blockingSocket puts nc's socket in blocking mode and returns it.
func blockingSocket(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("floor: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var serr error
	if err := rc.Control(func(s uintptr) {
		fd = int(s)
		serr = syscall.SetNonblock(fd, false)
	}); err != nil {
		return -1, err
	}
	return fd, serr
}
