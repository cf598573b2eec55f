package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testsmbd"
)

// smbdPort is where the bench tests' smbd listens on testnet.Peer(): not
// 445, which other packages' tests may hold on that address meanwhile.
const smbdPort = 4445

// startSmbd runs a standalone Samba smbd (serving wkssvc, signing
// mandatory, as scripts/bench runs it) on testnet.Peer():smbdPort for the
// calling test (internal/testsmbd) and returns its target.
func startSmbd(t *testing.T) Target {
	t.Helper()
	s := testsmbd.Start(t, testsmbd.Options{Port: smbdPort, Workgroup: "BENCHWG", Password: "Bench-Peer-1!", MandatorySigning: true})
	return Target{Name: "smbd", Host: s.Host, Port: s.Port, User: s.User, Password: s.Password}
}

// The lean generator's calls, in every pipe mode, signed and sealed, are
// answered by Samba's smbd: pipelined calls send WRITE and READ together
// once the session holds the credits, whatever order smbd answers them in.
func TestLeanCallsSmbd(t *testing.T) {
	tgt := startSmbd(t)
	for _, seal := range []bool{false, true} {
		for _, pio := range []PipeIO{WriteRead, Transceive, Pipelined} {
			t.Run(fmt.Sprintf("seal=%v/%v", seal, pio), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				c, err := DialLean(ctx, tgt, LeanOptions{Seal: seal, IO: pio, Blocking: true})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(ctx)
				for i := range 100 {
					if err := c.GetInfo(ctx); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
				}
				if pio == Pipelined && c.Unpipelined > 1 {
					t.Errorf("%d of 100 calls not pipelined", c.Unpipelined)
				}
			})
		}
	}
}
