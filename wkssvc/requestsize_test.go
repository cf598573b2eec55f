package wkssvc

import (
	"strings"
	"testing"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
)

// The runtime's default limit on a request stub (dcerpc.DefaultMaxReassembly)
// is sized from the largest legitimate wkssvc request: a domain join with
// every string at a generous maximum must fit in half of it.
func TestLargestJoinRequestFitsDefaultLimit(t *testing.T) {
	domain := strings.Repeat("d", 255)                                   // a DNS name
	ou := "OU=" + strings.Repeat("o", 2045)                              // a deep distinguished name
	account := strings.Repeat("a", 255) + "@" + strings.Repeat("r", 256) // a long UPN
	server := strings.Repeat("s", 255)
	for name, req := range map[string]ndr.Marshaler{
		"NetrJoinDomain2": &wkst.JoinDomain2Request{ServerName: server, DomainNameParam: domain, MachineAccountOU: ou,
			AccountName: account, Password: &wkst.EncryptedUserPassword{Buffer: make([]byte, 524)}, Options: 3},
		"NetrJoinDomain3": &wkst.JoinDomain3Request{ServerName: server, DomainNameParam: domain, MachineAccountOU: ou,
			AccountName: account, Password: &wkst.EncryptedUserPasswordAES{AuthData: make([]byte, 64), Salt: make([]byte, 16),
				Cipher: make([]byte, 512), CipherLength: 512}, Options: 3},
	} {
		b, err := ndr.Marshal(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d bytes", name, len(b))
		if len(b) > dcerpc.DefaultMaxReassembly/2 {
			t.Errorf("%s: %d bytes, more than half of the default limit %d", name, len(b), dcerpc.DefaultMaxReassembly)
		}
	}
}
