package e2e

import (
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/smbprobe"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// probe connects a raw SMB client to the daemon from the probe address,
// negotiates 3.1.1 and closes it when the test ends.
func probe(t *testing.T, d *daemon) *smbprobe.Client {
	t.Helper()
	return probeFrom(t, d, testnet.Probe())
}

// probeFrom is probe from another local address.
func probeFrom(t *testing.T, d *daemon, local string) *smbprobe.Client {
	t.Helper()
	c, err := smbprobe.Dial(d.addr, local)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if st, err := c.Negotiate(0x0311, 0x0002); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("negotiate: %08x %v", st, err)
	}
	return c
}

// anonymousIPC logs on anonymously and connects IPC$.
func anonymousIPC(t *testing.T, c *smbprobe.Client) {
	t.Helper()
	if st, err := c.LoginAnonymous(); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("anonymous logon: %08x %v", st, err)
	}
	if st, err := c.TreeConnect("IPC$"); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("tree connect: %08x %v", st, err)
	}
}

// boundPipe opens \PIPE\wkssvc and binds wkssvc on it.
func boundPipe(t *testing.T, c *smbprobe.Client) smbprobe.FileID {
	t.Helper()
	st, id, err := c.Create("wkssvc")
	if err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("create: %08x %v", st, err)
	}
	if st, err := c.Write(id, smbprobe.Bind(1, smbprobe.WkssvcSyntax)); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("bind write: %08x %v", st, err)
	}
	st, ack, err := c.Read(id, 4280)
	if err != nil || st != smbprobe.StatusSuccess || smbprobe.PDUType(ack) != smbprobe.PtypeBindAck {
		t.Fatalf("bind: %08x %v type %d", st, err, smbprobe.PDUType(ack))
	}
	return id
}
