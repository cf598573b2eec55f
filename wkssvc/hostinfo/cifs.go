package hostinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// DefaultCIFSStats is where the kernel's SMB client (the cifs module)
// publishes its counters.
const DefaultCIFSStats = "/proc/fs/cifs/Stats"

// CIFSStats are the counters of the kernel's SMB client, summed over its
// mounts. Present is false when the host has no such client loaded.
type CIFSStats struct {
	Present      bool
	Sessions     uint64 // "CIFS Session: N"
	Shares       uint64 // "Share (unique mount targets): N"
	Reconnects   uint64 // "N session M share reconnects": N + M
	SMBs         uint64 // "SMBs: N", every mount
	Reads        uint64 // "Reads: N", every mount
	Writes       uint64 // "Writes: N", every mount
	BytesRead    uint64 // "Bytes read: N", every mount
	BytesWritten uint64 // "Bytes written: N", every mount
}

// ReadCIFSStats reads the counters at path; a missing file is a host
// without the kernel SMB client (Present false), not an error.
func ReadCIFSStats(path string) (CIFSStats, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return CIFSStats{}, nil
	}
	if err != nil {
		return CIFSStats{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return CIFSStats{}, fmt.Errorf("hostinfo: reading %s: %w", path, err)
	}
	return ParseCIFSStats(data), nil
}

// ParseCIFSStats decodes the text of /proc/fs/cifs/Stats. Lines it does
// not know are skipped: the format has changed across kernel versions,
// and a counter it cannot find stays zero.
func ParseCIFSStats(data []byte) CIFSStats {
	s := CIFSStats{Present: true}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "CIFS Session:"):
			s.Sessions = lastNumber(f)
		case strings.HasPrefix(line, "Share (unique mount targets):"):
			s.Shares = lastNumber(f)
		case len(f) >= 5 && f[1] == "session" && f[3] == "share" && f[4] == "reconnects":
			s.Reconnects += number(f[0]) + number(f[2])
		case strings.HasPrefix(line, "SMBs:"):
			s.SMBs += number(field(f, 1))
		case strings.HasPrefix(line, "Reads:"):
			s.Reads += number(field(f, 1))
		case strings.HasPrefix(line, "Writes:"):
			s.Writes += number(field(f, 1))
		}
		// "Bytes read: N  Bytes written: M" (SMB1 and SMB2 mounts alike).
		for i := 0; i+2 < len(f); i++ {
			if f[i] == "Bytes" && f[i+1] == "read:" {
				s.BytesRead += number(f[i+2])
			}
			if f[i] == "Bytes" && f[i+1] == "written:" {
				s.BytesWritten += number(f[i+2])
			}
		}
	}
	return s
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func lastNumber(f []string) uint64 {
	if len(f) == 0 {
		return 0
	}
	return number(f[len(f)-1])
}

func number(s string) uint64 {
	v, err := strconv.ParseUint(strings.TrimRight(s, ","), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
