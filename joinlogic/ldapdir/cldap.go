package ldapdir

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The LDAP ping over UDP (CLDAP, MS-ADTS 6.3.3 and RFC 1798 as profiled
// by MS-ADTS 3.1.1.3.1.4.1): one BER-encoded SearchRequest (RFC 4511
// 4.5.1) in a datagram, answered by a SearchResultEntry and a
// SearchResultDone in one datagram. Only the few BER forms this exchange
// uses are encoded and decoded here.

// BER identifiers (X.690 8.1.2) used by the exchange.
const (
	berBoolean        = 0x01
	berInteger        = 0x02
	berOctetString    = 0x04
	berEnumerated     = 0x0a
	berSequence       = 0x30
	berSet            = 0x31
	berSearchRequest  = 0x63 // [APPLICATION 3] constructed
	berSearchResEntry = 0x64 // [APPLICATION 4] constructed
	berSearchResDone  = 0x65 // [APPLICATION 5] constructed
	berFilterAnd      = 0xa0 // Filter.and [0] constructed
	berFilterEquality = 0xa3 // Filter.equalityMatch [3] constructed
)

// berTLV appends one definite-length TLV (X.690 8.1.3).
func berTLV(dst []byte, tag byte, content []byte) []byte {
	dst = append(dst, tag)
	switch n := len(content); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xff:
		dst = append(dst, 0x81, byte(n))
	default:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	}
	return append(dst, content...)
}

func berInt(tag byte, v int32) []byte {
	// Minimal two's complement, big-endian (X.690 8.3).
	b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	for len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 != 0)) {
		b = b[1:]
	}
	return berTLV(nil, tag, b)
}

// encodePingRequest builds the CLDAP SearchRequest of an LDAP ping: base
// "", scope base, filter (&(DnsDomain=domain)(NtVer=ntVer)), attribute
// Netlogon. domain may be empty (no DnsDomain term).
func encodePingRequest(msgID int32, domain string, ntVer uint32) []byte {
	eq := func(attr string, val []byte) []byte {
		c := berTLV(nil, berOctetString, []byte(attr))
		c = berTLV(c, berOctetString, val)
		return berTLV(nil, berFilterEquality, c)
	}
	var terms []byte
	if domain != "" {
		terms = append(terms, eq("DnsDomain", []byte(domain))...)
	}
	nt := []byte{byte(ntVer), byte(ntVer >> 8), byte(ntVer >> 16), byte(ntVer >> 24)}
	terms = append(terms, eq("NtVer", nt)...)

	var req []byte
	req = berTLV(req, berOctetString, nil)         // baseObject ""
	req = append(req, berInt(berEnumerated, 0)...) // scope baseObject
	req = append(req, berInt(berEnumerated, 0)...) // derefAliases never
	req = append(req, berInt(berInteger, 0)...)    // sizeLimit
	req = append(req, berInt(berInteger, 0)...)    // timeLimit
	req = berTLV(req, berBoolean, []byte{0})       // typesOnly FALSE
	req = berTLV(req, berFilterAnd, terms)
	req = berTLV(req, berSequence, berTLV(nil, berOctetString, []byte("Netlogon")))

	msg := berInt(berInteger, msgID)
	msg = berTLV(msg, berSearchRequest, req)
	return berTLV(nil, berSequence, msg)
}

var errBER = errors.New("ldapdir: malformed CLDAP response")

// berRead splits the first TLV off b: its tag, content and the rest.
// Only definite lengths of up to four octets are accepted.
func berRead(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errBER
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, errBER // high tag numbers are not used here
	}
	l, hdr := int(b[1]), 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < 2+n {
			return 0, nil, nil, errBER // indefinite or oversized length
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		hdr += n
	}
	if l < 0 || l > len(b)-hdr {
		return 0, nil, nil, errBER
	}
	return tag, b[hdr : hdr+l], b[hdr+l:], nil
}

// berIntValue decodes a small INTEGER or ENUMERATED content.
func berIntValue(c []byte) (int64, error) {
	if len(c) == 0 || len(c) > 8 {
		return 0, errBER
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, nil
}

// parsePingReply extracts the Netlogon value from a CLDAP answer, with
// the message ID the answer carries. found is false when the controller
// answered with no entry (it does not serve the domain asked for).
func parsePingReply(b []byte) (msgID int64, netlogon []byte, found bool, err error) {
	done, first := false, true
	for len(b) > 0 && !done {
		tag, msg, rest, err := berRead(b)
		if err != nil || tag != berSequence {
			return 0, nil, false, errBER
		}
		b = rest
		tag, idc, msg, err := berRead(msg)
		if err != nil || tag != berInteger {
			return 0, nil, false, errBER
		}
		id, err := berIntValue(idc)
		if err != nil || (!first && id != msgID) {
			return 0, nil, false, errBER
		}
		msgID, first = id, false
		tag, op, _, err := berRead(msg)
		if err != nil {
			return 0, nil, false, errBER
		}
		switch tag {
		case berSearchResEntry:
			v, err := netlogonFromEntry(op)
			if err != nil {
				return 0, nil, false, err
			}
			if v != nil {
				netlogon, found = v, true
			}
		case berSearchResDone:
			t, rc, _, err := berRead(op)
			if err != nil || t != berEnumerated {
				return 0, nil, false, errBER
			}
			code, err := berIntValue(rc)
			if err != nil {
				return 0, nil, false, errBER
			}
			if code != 0 {
				return 0, nil, false, fmt.Errorf("ldapdir: CLDAP search failed with result code %d", code)
			}
			done = true
		default:
			return 0, nil, false, fmt.Errorf("ldapdir: unexpected CLDAP operation 0x%02x", tag)
		}
	}
	if !done {
		return 0, nil, false, errBER
	}
	return msgID, netlogon, found, nil
}

// netlogonFromEntry finds the Netlogon attribute in a SearchResultEntry.
func netlogonFromEntry(op []byte) ([]byte, error) {
	tag, _, rest, err := berRead(op) // objectName
	if err != nil || tag != berOctetString {
		return nil, errBER
	}
	tag, attrs, _, err := berRead(rest)
	if err != nil || tag != berSequence {
		return nil, errBER
	}
	for len(attrs) > 0 {
		tag, attr, r, err := berRead(attrs)
		if err != nil || tag != berSequence {
			return nil, errBER
		}
		attrs = r
		tag, name, r, err := berRead(attr)
		if err != nil || tag != berOctetString {
			return nil, errBER
		}
		tag, vals, _, err := berRead(r)
		if err != nil || tag != berSet {
			return nil, errBER
		}
		if !strings.EqualFold(string(name), "Netlogon") {
			continue
		}
		tag, v, _, err := berRead(vals)
		if err != nil || tag != berOctetString {
			return nil, errBER
		}
		return v, nil
	}
	return nil, nil
}

// errNoAnswer reports a controller that answered the ping with no entry:
// it does not serve the domain asked for.
var errNoAnswer = errors.New("no Netlogon answer")

// cldapPing sends the LDAP ping over UDP to addr, retrying a lost
// datagram, and returns the raw Netlogon value. Each datagram carries a
// random message ID and only an answer with one of the IDs sent is read,
// so that a host that cannot see the request cannot forge the answer
// (RFC 4511 4.1.1.1 leaves the choice to the client).
func (d *Directory) cldapPing(ctx context.Context, addr, domain string) ([]byte, error) {
	total := d.opTimeout(ctx)
	nd := net.Dialer{Timeout: total}
	conn, err := nd.DialContext(ctx, "udp", net.JoinHostPort(addr, strconv.Itoa(d.cfg.LDAPPort)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	const attempts = 3
	wait := total / attempts
	buf := make([]byte, 4096)
	sent := make(map[int64]bool, attempts)
	for i := 0; i < attempts; i++ {
		msgID, err := randomMessageID()
		if err != nil {
			return nil, err
		}
		sent[int64(msgID)] = true
		if _, err := conn.Write(encodePingRequest(msgID, dnsDomainOrEmpty(domain), NtVersion5|NtVersion5EX)); err != nil {
			return nil, err
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // resend
				}
				return nil, err // e.g. ICMP port unreachable
			}
			id, v, found, err := parsePingReply(buf[:n])
			if err != nil || !sent[id] {
				// A late answer to an earlier attempt is as good; an
				// answer to no request of ours is ignored.
				d.log.DebugContext(ctx, "ldapdir: ignoring CLDAP datagram", "from", addr, "id", id, "err", err)
				continue
			}
			if !found {
				return nil, fmt.Errorf("%w for %s", errNoAnswer, domain)
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("no CLDAP answer from %s within %v", addr, total)
}

// randomMessageID returns a message ID from 1 to 2^31-1.
func randomMessageID() (int32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if v := int32(binary.BigEndian.Uint32(b[:]) & 0x7fffffff); v != 0 {
			return v, nil
		}
	}
}

func dnsDomainOrEmpty(domain string) string {
	if strings.Contains(domain, ".") {
		return domain
	}
	return ""
}
