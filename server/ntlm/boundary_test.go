package ntlm

import (
	"errors"
	"testing"
	"time"
)

// TestClockSkewBoundary: with the default tolerance of 36 hours (MS-NLMP
// <39>), an NTLMv2 timestamp exactly 36 hours away, in the past or the
// future, logs on; one second further does not.
func TestClockSkewBoundary(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  time.Duration
		ok   bool
	}{
		{"36h in the past", -DefaultMaxClockSkew, true},
		{"36h in the future", DefaultMaxClockSkew, true},
		{"36h and 1s in the past", -DefaultMaxClockSkew - time.Second, false},
		{"36h and 1s in the future", DefaultMaxClockSkew + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := timeToFiletime(testNow.Add(tc.off))
			_, err := runCrafted(t, fixedAuthenticator(Config{}), &v2Client{user: "bob", pass: "hunter2", timestamp: &ts})
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, errClockSkew) {
				t.Fatalf("got %v, want the clock skew refusal", err)
			}
		})
	}
}
