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
// checks that every response to an encrypted request is encrypted (it
// decrypts both directions with keys it derives from the NTLM exchange and
// the password) and every response on a signed session validly signed. Its violations fail
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
// either encrypted traffic in both directions that the proxy decrypted
// with the keys it derived itself (every server transform message opened
// and authenticated, responses to the client's requests inside), or
// signed responses whose signatures it verified with its own key.
func expectWire(t *testing.T, p *smbtap.Proxy, before smbtap.Stats, encrypted bool) {
	t.Helper()
	s := p.Stats()
	for _, v := range s.Violations[len(before.Violations):] {
		t.Errorf("on the wire: %s", v)
	}
	if encrypted {
		req, resp := s.EncryptedRequests-before.EncryptedRequests, s.EncryptedResponses-before.EncryptedResponses
		dreq, dresp := s.DecryptedRequests-before.DecryptedRequests, s.DecryptedResponses-before.DecryptedResponses
		answers := s.EncryptedAnswers - before.EncryptedAnswers
		if req == 0 || resp == 0 || dreq != req || dresp != resp || answers < dresp {
			t.Errorf("encryption not proved: %d/%d client and %d/%d server transform messages decrypted, %d responses inside",
				dreq, req, dresp, resp, answers)
		}
		return
	}
	if s.Sessions == before.Sessions || s.SignedVerified == before.SignedVerified {
		t.Errorf("no signed session checked: %d session keys derived, %d signatures verified",
			s.Sessions-before.Sessions, s.SignedVerified-before.SignedVerified)
	}
}
