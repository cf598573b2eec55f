package crypto

import (
	"fmt"
	"io"
)

const (
	// MachinePasswordLength is the number of characters of a generated
	// machine password (MS-WKST 3.2.4.13.3).
	MachinePasswordLength = 120
	machinePwdMin         = 32  // lowest ASCII code allowed, 3.2.4.13.3
	machinePwdMax         = 122 // highest ASCII code allowed, 3.2.4.13.3
	machinePwdAlphabet    = machinePwdMax - machinePwdMin + 1
	// Bytes at or above this bound are rejected so that every character
	// is equally likely (256 is not a multiple of the alphabet size).
	machinePwdReject = 256 / machinePwdAlphabet * machinePwdAlphabet
	// A source that keeps yielding rejected bytes is given up on after
	// this many bytes rather than read forever.
	machinePwdMaxRead = 64 * MachinePasswordLength
)

// GenerateMachinePassword returns a machine account password of
// MachinePasswordLength characters, each drawn uniformly from ASCII 32..122
// (MS-WKST 3.2.4.13.3). rand is normally crypto/rand.Reader; tests pass a
// deterministic reader.
func GenerateMachinePassword(rand io.Reader) (string, error) {
	out := make([]byte, 0, MachinePasswordLength)
	buf := make([]byte, MachinePasswordLength)
	defer Wipe(buf)
	defer Wipe(out[:cap(out)])
	for read := 0; len(out) < MachinePasswordLength; {
		if read >= machinePwdMaxRead {
			return "", fmt.Errorf("crypto: random source yields too few usable bytes")
		}
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", fmt.Errorf("crypto: reading random bytes: %w", err)
		}
		read += len(buf)
		for _, c := range buf {
			if int(c) >= machinePwdReject || len(out) == MachinePasswordLength {
				continue
			}
			out = append(out, byte(machinePwdMin+int(c)%machinePwdAlphabet))
		}
	}
	return string(out), nil
}
