package smbraw

import (
	"bytes"
	"testing"
)

// A NEGOTIATE response's contexts are found at their 8-byte aligned
// offsets; one that runs past the message is an error, not a panic.
func TestParseNegotiateContexts(t *testing.T) {
	body := NegotiateBody([]uint16{0x0311}, 0, 1, []NegotiateContext{PreauthContext(1), IDListContext(ContextEncryption, 2)})
	// Shape a response around the request's contexts: right after the
	// fixed part, with count and offset where a response has them.
	resp := make([]byte, HeaderSize+64)
	copy(resp, "\xfeSMB")
	resp = append(resp, body[int(le.Uint32(body[28:]))-HeaderSize:]...)
	le.PutUint16(resp[HeaderSize+6:], 2)
	le.PutUint32(resp[HeaderSize+60:], HeaderSize+64)
	ctxs, err := ParseNegotiateContexts(resp)
	if err != nil || len(ctxs) != 2 || ctxs[0].Type != ContextPreauth || ctxs[1].Type != ContextEncryption ||
		!bytes.Equal(ctxs[1].Data, []byte{1, 0, 2, 0}) {
		t.Fatalf("contexts %+v, %v", ctxs, err)
	}
	if _, err := ParseNegotiateContexts(resp[:len(resp)-1]); err == nil {
		t.Fatal("truncated context accepted")
	}
}

// The data of READ and IOCTL responses is bounds-checked.
func TestResponseDataBounds(t *testing.T) {
	resp := make([]byte, HeaderSize+48+3)
	resp[HeaderSize+2] = HeaderSize + 16
	le.PutUint32(resp[HeaderSize+4:], 3)
	if d, err := ReadData(resp[:HeaderSize+16+3]); err != nil || len(d) != 3 {
		t.Fatalf("read data %v %v", d, err)
	}
	le.PutUint32(resp[HeaderSize+4:], 1000)
	if _, err := ReadData(resp); err == nil {
		t.Fatal("READ length past the message accepted")
	}
	le.PutUint32(resp[HeaderSize+32:], HeaderSize+48)
	le.PutUint32(resp[HeaderSize+36:], 4)
	if _, err := IoctlOutput(resp); err == nil {
		t.Fatal("IOCTL output past the message accepted")
	}
	le.PutUint32(resp[HeaderSize+36:], 3)
	if out, err := IoctlOutput(resp); err != nil || len(out) != 3 {
		t.Fatalf("ioctl output %v %v", out, err)
	}
}
