package e2e

import (
	"net"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/smbtap"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// tapHost is where the recording proxy listens (port 445) when a test
// checks the wire: internal/testnet's tap address.
var tapHost = testnet.Tap()

// startTap puts a recording proxy (internal/smbtap) on tapHost:445 in front
// of d: clients connect to tapHost instead of the daemon, and the proxy
// checks that every response to an encrypted request is encrypted and
// every response on a signed session validly signed. Its violations fail
// the test when it ends.
func startTap(t *testing.T, d *daemon) *smbtap.Proxy {
	t.Helper()
	testenv.Addr(t, tapHost)
	p := smbtap.Start(t, net.JoinHostPort(tapHost, "445"), d.addr,
		map[string]string{adminUser: adminPass, plainUser: plainPass})
	t.Cleanup(func() {
		p.Close()
		p.Check(t)
	})
	return p
}

// expectWire checks what the proxy saw since before: no violation, and
// either encrypted traffic in both directions or signed responses whose
// signatures it verified with the key it derived itself.
func expectWire(t *testing.T, p *smbtap.Proxy, before smbtap.Stats, encrypted bool) {
	t.Helper()
	s := p.Stats()
	for _, v := range s.Violations[len(before.Violations):] {
		t.Errorf("on the wire: %s", v)
	}
	if encrypted {
		if s.EncryptedRequests == before.EncryptedRequests || s.EncryptedResponses == before.EncryptedResponses {
			t.Errorf("no encrypted traffic: %d requests and %d responses in transform headers",
				s.EncryptedRequests-before.EncryptedRequests, s.EncryptedResponses-before.EncryptedResponses)
		}
		return
	}
	if s.Sessions == before.Sessions || s.SignedVerified == before.SignedVerified {
		t.Errorf("no signed session checked: %d session keys derived, %d signatures verified",
			s.Sessions-before.Sessions, s.SignedVerified-before.SignedVerified)
	}
}
