package ntlm

import (
	"bytes"
	"errors"
	"testing"
)

// An unfinished exchange keeps the NEGOTIATE_MESSAGE for the MIC: one
// above the cap is refused, so what an abandoned logon holds stays small
// whatever the token size.
func TestRetainedNegotiateCap(t *testing.T) {
	neg := (&v2Client{}).negotiateMsg()
	pad := func(n int) []byte { return append(append([]byte(nil), neg...), bytes.Repeat([]byte{0}, n-len(neg))...) }
	m := NewMechanism(Config{Accounts: testAccounts()})
	if _, _, err := m.NewContext().Accept(pad(maxNegotiateMessage)); err != nil {
		t.Fatalf("NEGOTIATE of %d bytes: %v", maxNegotiateMessage, err)
	}
	if _, _, err := m.NewContext().Accept(pad(maxNegotiateMessage + 1)); !errors.Is(err, ErrBadToken) {
		t.Fatalf("NEGOTIATE of %d bytes: %v", maxNegotiateMessage+1, err)
	}
}
