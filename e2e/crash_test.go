package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
)

// kill -9 the daemon at random moments while clients keep changing its
// membership: every restart finds a valid state file holding one of the
// workgroups that were being joined.
func TestKillDuringStateWrites(t *testing.T) {
	d := startDaemon(t)
	stateDir := d.stateDir
	names := map[string]bool{"WORKGROUP": true}
	const rounds = 20
	total := 0
	for round := 0; round < rounds; round++ {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		joined := 0
		for w := 0; w < 3; w++ {
			name := fmt.Sprintf("R%dW%d", round, w)
			names[name] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false)
				if err != nil {
					return
				}
				for ctx.Err() == nil {
					resp, err := c.cli.JoinDomain3(c.ctx, &wkssvc.JoinDomain3Request{DomainNameParam: name})
					if err != nil && !strings.Contains(err.Error(), "0x000006ff") { // RPC_S_CALL_IN_PROGRESS is expected
						return
					}
					if err == nil && resp.Return == 0 {
						mu.Lock()
						joined++
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(20+rand.Intn(150)) * time.Millisecond)
		if err := d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-d.done
		stop()
		wg.Wait()

		total += joined
		d = startDaemon(t, "--state-dir", stateDir)
		name, status := joinInfo(t, d)
		if status != wkssvc.NetSetupJoinStatusWorkgroupName || !names[name] {
			t.Fatalf("round %d (%d joins acknowledged): state after kill -9 is %q %v", round, joined, name, status)
		}
	}
	if total < rounds {
		t.Fatalf("only %d joins were acknowledged in %d rounds: the daemon was not writing state when killed", total, rounds)
	}
	t.Logf("%d rounds, %d acknowledged joins, state valid after every kill -9", rounds, total)
}
