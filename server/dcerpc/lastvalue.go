package dcerpc

import "github.com/oiweiwei/go-msrpc/ndr"

// ReadData reads as the wrapped reader does, noting a 32-bit value.
func (r *boundedReader) ReadData(v any) error {
	if err := r.Reader.ReadData(v); err != nil {
		return err
	}
	if p, ok := v.(*uint32); ok {
		r.lastU32, r.hasLastU32 = *p, true
	}
	return nil
}

// LastUint32 returns the 32-bit value the request r (a reader from
// NewStubReader or NewNDR64StubReader) read last. Inside a call, the
// request decoded, it is the last 32-bit [in] parameter — for the
// methods whose final parameter is one, that parameter. go-msrpc's
// request types drop some of those (the Reserved of MS-WKST
// NetrAddAlternateComputerName and its siblings), whose value a server
// must check.
func LastUint32(r ndr.Reader) (uint32, bool) {
	br, ok := r.(*boundedReader)
	if !ok || !br.hasLastU32 {
		return 0, false
	}
	return br.lastU32, true
}
