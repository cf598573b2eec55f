package testdc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/ssp/spnego"
	"github.com/oiweiwei/gokrb5.fork/v9/asn1tools"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/messages"
	"github.com/oiweiwei/gokrb5.fork/v9/types"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// ImpostorAddr is the address an Impostor listens on.
func ImpostorAddr() string { return testnet.Impostor() }

// ImpostorOptions describe the man in the middle an Impostor plays.
type ImpostorOptions struct {
	// Domain is the DNS domain its DNS server answers for. Default
	// DNSDomain.
	Domain string
	// SRVTarget is the host name its DNS server gives as the target of
	// _ldap._tcp.dc._msdcs.<Domain>; its DNS server resolves that name
	// (and only names inside Domain, or this one) to ImpostorAddr().
	// Default HostFQDN: the real DC's name, spoofed.
	SRVTarget string
	// PingHostName is the DNS host name its LDAP ping answers claim.
	// Default SRVTarget.
	PingHostName string
	// Certificate, when set, is served on 636 and after StartTLS on 389.
	// Default none: port 636 is closed and StartTLS refused.
	Certificate *tls.Certificate
	// RefuseSPNEGO answers GSS-SPNEGO binds with authMethodNotSupported,
	// as a server without that mechanism would (an attempt to push the
	// client towards a weaker one).
	RefuseSPNEGO bool
	// Relay makes it a passive tap instead: the LDAP ping, LDAP (389 and
	// 636) and Kerberos go to the real DC unchanged, and what the client
	// sends on each connection is recorded (Streams). Its DNS server
	// answers as usual.
	Relay bool
	// StripNTLMSealing, with Relay, clears NTLMSSP_NEGOTIATE_SEAL in the
	// NTLM CHALLENGE messages the DC sends on port 389: a DC that will
	// not seal an NTLM session, or a man in the middle that downgrades
	// one.
	StripNTLMSealing bool
}

// Impostor is what a man in the middle on the path to the DC can do: it
// answers the DNS queries and the unauthenticated LDAP ping in the DC's
// stead, relays Kerberos to the real DC (so the client gets genuine
// tickets, which the impostor cannot use: it does not hold the DC's
// service key), and serves LDAP itself — answering a Kerberos bind with an
// AP-REP under a key of its own, accepting any simple bind, and offering a
// certificate of its choosing for TLS. It records everything it receives
// (after TLS), so a test can check that no password reached it.
type Impostor struct {
	Addr string
	opts ImpostorOptions
	dc   *DC

	mu       sync.Mutex
	events   []string
	received bytes.Buffer
	streams  []*bytes.Buffer // per relayed connection, what the client sent

	lns  []net.Listener
	pcs  []net.PacketConn
	wg   sync.WaitGroup
	done chan struct{}
}

// StartImpostor starts an Impostor on ImpostorAddr() in front of dc; the
// test's cleanup stops it.
func StartImpostor(t testing.TB, dc *DC, opts ImpostorOptions) *Impostor {
	t.Helper()
	if opts.Domain == "" {
		opts.Domain = DNSDomain
	}
	if opts.SRVTarget == "" {
		opts.SRVTarget = HostFQDN
	}
	if opts.PingHostName == "" {
		opts.PingHostName = opts.SRVTarget
	}
	addr := ImpostorAddr()
	if !testnet.IsAssigned(addr) {
		unavailable(t, addr+" is not configured on any interface (ip addr add "+addr+"/8 dev lo; scripts/test does it)")
	}
	im := &Impostor{Addr: addr, opts: opts, dc: dc, done: make(chan struct{})}
	listen := func(port string, serve func(net.Conn)) {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, port))
		if err != nil {
			im.close()
			t.Fatalf("testdc: impostor on %s:%s: %v", addr, port, err)
		}
		im.lns = append(im.lns, ln)
		im.wg.Add(1)
		go im.accept(ln, serve)
	}
	if opts.Relay {
		listen("389", func(c net.Conn) { im.relay(c, "389") })
		listen("636", func(c net.Conn) { im.relay(c, "636") })
	} else {
		listen("389", func(c net.Conn) { im.serveLDAP(c, false) })
	}
	listen("88", im.relayKDC)
	if opts.Certificate != nil && !opts.Relay {
		listen("636", func(c net.Conn) {
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*opts.Certificate}})
			if err := tc.Handshake(); err != nil {
				im.event("ldaps: handshake failed: " + err.Error())
				tc.Close()
				return
			}
			im.event("ldaps: handshake done")
			im.serveLDAP(tc, true)
		})
	}
	for _, port := range []string{"53", "389"} {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(addr, port))
		if err != nil {
			im.close()
			t.Fatalf("testdc: impostor on udp %s:%s: %v", addr, port, err)
		}
		im.pcs = append(im.pcs, pc)
		im.wg.Add(1)
		if port == "53" {
			go im.serveDNS(pc)
		} else {
			go im.serveCLDAP(pc)
		}
	}
	t.Cleanup(im.close)
	return im
}

func (im *Impostor) close() {
	select {
	case <-im.done:
		return
	default:
	}
	close(im.done)
	for _, ln := range im.lns {
		ln.Close()
	}
	for _, pc := range im.pcs {
		pc.Close()
	}
	im.wg.Wait()
}

func (im *Impostor) event(s string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.events = append(im.events, s)
}

// Events lists what happened, in order ("dns SRV ...", "cldap ping",
// "bind simple ...", "bind sasl kerberos", "bind sasl ntlm", ...).
func (im *Impostor) Events() []string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]string(nil), im.events...)
}

// Received returns every byte the impostor's LDAP ports received from
// clients, after TLS.
func (im *Impostor) Received() []byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]byte(nil), im.received.Bytes()...)
}

// Saw reports whether an event starts with prefix.
func (im *Impostor) Saw(prefix string) bool {
	for _, e := range im.Events() {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func (im *Impostor) accept(ln net.Listener, serve func(net.Conn)) {
	defer im.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		im.wg.Add(1)
		go func() {
			defer im.wg.Done()
			stop := context.AfterFunc(closedCtx(im.done), func() { c.Close() })
			defer stop()
			c.SetDeadline(time.Now().Add(time.Minute))
			serve(c)
			c.Close()
		}()
	}
}

// closedCtx is a context that ends when done is closed.
func closedCtx(done <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-done; cancel() }()
	return ctx
}

// Streams returns, for every LDAP connection a Relay impostor passed on,
// the bytes the client sent, in order.
func (im *Impostor) Streams() [][]byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	out := make([][]byte, len(im.streams))
	for i, b := range im.streams {
		out[i] = append([]byte(nil), b.Bytes()...)
	}
	return out
}

// relay passes an LDAP connection on to the real DC, recording what the
// client sends.
func (im *Impostor) relay(c net.Conn, port string) {
	up, err := net.DialTimeout("tcp", net.JoinHostPort(im.dc.Addr, port), 5*time.Second)
	if err != nil {
		return
	}
	stop := context.AfterFunc(closedCtx(im.done), func() { up.Close() })
	defer stop()
	rec := &bytes.Buffer{}
	im.mu.Lock()
	im.streams = append(im.streams, rec)
	im.mu.Unlock()
	im.event("relay: ldap " + port)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				im.mu.Lock()
				rec.Write(buf[:n])
				im.received.Write(buf[:n])
				im.mu.Unlock()
				if _, werr := up.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		up.Close()
	}()
	if im.opts.StripNTLMSealing && port == "389" {
		im.copyStrippingSeal(c, up)
	} else {
		io.Copy(c, up)
	}
	up.Close()
	c.Close()
}

// ntlmChallenge starts an NTLM CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2): the
// signature, then MessageType 2; NegotiateFlags follow at offset 20.
var ntlmChallenge = []byte("NTLMSSP\x00\x02\x00\x00\x00")

// copyStrippingSeal copies the DC's LDAP messages to the client, clearing
// NTLMSSP_NEGOTIATE_SEAL (0x20) in every NTLM CHALLENGE inside them,
// until the messages stop being clear LDAP (a SASL layer began); the rest
// is copied as it is.
func (im *Impostor) copyStrippingSeal(dst io.Writer, src io.Reader) {
	for {
		msg, err := readTLV(src)
		if len(msg) > 0 {
			if i := bytes.Index(msg, ntlmChallenge); i >= 0 && i+24 <= len(msg) && msg[i+20]&0x20 != 0 {
				msg[i+20] &^= 0x20
				im.event("relay: NTLM CHALLENGE without NTLMSSP_NEGOTIATE_SEAL")
			}
			if _, werr := dst.Write(msg); werr != nil {
				return
			}
		}
		if err != nil {
			if err == errNotBER {
				io.Copy(dst, src)
			}
			return
		}
	}
}

var errNotBER = fmt.Errorf("not a BER element")

// readTLV reads one BER element with a definite length of up to 4 length
// bytes (what LDAP messages use). When the next bytes are no SEQUENCE it
// returns what it read with errNotBER.
func readTLV(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != 0x30 {
		return hdr, errNotBER
	}
	n := int(hdr[1])
	out := hdr
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 {
			return out, errNotBER
		}
		lb := make([]byte, k)
		if _, err := io.ReadFull(r, lb); err != nil {
			return out, err
		}
		out = append(out, lb...)
		n = 0
		for _, b := range lb {
			n = n<<8 | int(b)
		}
	}
	if n > 16<<20 {
		return out, errNotBER
	}
	body := make([]byte, n)
	k, err := io.ReadFull(r, body)
	return append(out, body[:k]...), err
}

// relayKDC forwards a Kerberos connection to the real DC.
func (im *Impostor) relayKDC(c net.Conn) {
	up, err := net.DialTimeout("tcp", net.JoinHostPort(im.dc.Addr, "88"), 5*time.Second)
	if err != nil {
		return
	}
	stop := context.AfterFunc(closedCtx(im.done), func() { up.Close() })
	defer stop()
	im.event("kdc: relayed to the real DC")
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	io.Copy(c, up)
	up.Close()
	c.Close()
}

// recorder tees what a client sends into the impostor's record.
type recorder struct {
	net.Conn
	im *Impostor
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.im.mu.Lock()
	r.im.received.Write(p[:n])
	r.im.mu.Unlock()
	return n, err
}

// serveLDAP answers LDAP messages on c until it closes.
func (im *Impostor) serveLDAP(c net.Conn, isTLS bool) {
	rc := recorder{Conn: c, im: im}
	for {
		p, err := ber.ReadPacket(rc)
		if err != nil || len(p.Children) < 2 {
			return
		}
		id, _ := p.Children[0].Value.(int64)
		op := p.Children[1]
		switch op.Tag {
		case ldap.ApplicationSearchRequest:
			im.answerSearch(c, id, op)
		case ldap.ApplicationBindRequest:
			im.answerBind(c, id, op)
		case ldap.ApplicationExtendedRequest:
			if isTLS || im.opts.Certificate == nil {
				im.event("starttls: refused")
				c.Write(ldapResult(id, ldap.ApplicationExtendedResponse, ldap.LDAPResultProtocolError, nil))
				continue
			}
			c.Write(ldapResult(id, ldap.ApplicationExtendedResponse, ldap.LDAPResultSuccess, nil))
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*im.opts.Certificate}})
			if err := tc.Handshake(); err != nil {
				im.event("starttls: handshake failed: " + err.Error())
				return
			}
			im.event("starttls: handshake done")
			im.serveLDAP(tc, true)
			return
		case ldap.ApplicationUnbindRequest:
			return
		default:
			im.event(fmt.Sprintf("ldap: operation %d", op.Tag))
			return
		}
	}
}

func (im *Impostor) answerSearch(c net.Conn, id int64, op *ber.Packet) {
	im.event("ldap: search")
	entry := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "entry")
	entry.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "dn"))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attrs")
	add := func(name string, vals ...string) {
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, name)
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, "type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		for _, v := range vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "val"))
		}
		a.AppendChild(set)
		attrs.AppendChild(a)
	}
	if strings.Contains(strings.ToLower(fmt.Sprint(op.Children)), "netlogon") || bytes.Contains(bytes.ToLower(op.Bytes()), []byte("netlogon")) {
		add("Netlogon", string(im.netlogon()))
	} else {
		base := "DC=" + strings.ReplaceAll(im.opts.Domain, ".", ",DC=")
		add("defaultNamingContext", base)
		add("dnsHostName", im.opts.PingHostName)
		add("supportedSASLMechanisms", "GSS-SPNEGO", "GSSAPI")
	}
	entry.AppendChild(attrs)
	c.Write(ldapMessage(id, entry))
	c.Write(ldapResult(id, ldap.ApplicationSearchResultDone, ldap.LDAPResultSuccess, nil))
}

func (im *Impostor) answerBind(c net.Conn, id int64, op *ber.Packet) {
	if len(op.Children) < 3 {
		return
	}
	name, _ := op.Children[1].Value.(string)
	auth := op.Children[2]
	switch {
	case auth.ClassType == ber.ClassContext && auth.Tag == 0:
		im.event("bind simple " + name)
		c.Write(ldapResult(id, ldap.ApplicationBindResponse, ldap.LDAPResultSuccess, nil))
	case auth.ClassType == ber.ClassContext && auth.Tag == 3 && len(auth.Children) > 0:
		mech, _ := auth.Children[0].Value.(string)
		var creds []byte
		if len(auth.Children) > 1 {
			creds = auth.Children[1].Data.Bytes()
		}
		if bytes.Contains(creds, []byte("NTLMSSP\x00")) {
			im.event("bind sasl " + mech + " ntlm")
			c.Write(ldapResult(id, ldap.ApplicationBindResponse, ldap.LDAPResultInvalidCredentials, nil))
			return
		}
		if im.opts.RefuseSPNEGO && mech == "GSS-SPNEGO" {
			im.event("bind sasl " + mech + " refused")
			c.Write(ldapResult(id, ldap.ApplicationBindResponse, ldap.LDAPResultAuthMethodNotSupported, nil))
			return
		}
		im.event("bind sasl " + mech + " kerberos")
		if mech == "GSSAPI" {
			c.Write(ldapResult(id, ldap.ApplicationBindResponse, ldap.LDAPResultSaslBindInProgress, forgedKRB5APRep()))
			return
		}
		c.Write(ldapResult(id, ldap.ApplicationBindResponse, ldap.LDAPResultSuccess, forgedAPRep()))
	default:
		im.event("bind other")
		c.Write(ldapResult(id, ldap.ApplicationBindResponse, ldap.LDAPResultAuthMethodNotSupported, nil))
	}
}

// forgedKRB5APRep is a Kerberos AP-REP in its GSS framing (RFC 1964
// 1.1.2), sealed under a key the impostor made up: it has no other, since
// it never saw the DC's service key.
func forgedKRB5APRep() []byte {
	key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: make([]byte, 32)}
	rand.Read(key.KeyValue)
	ap, err := messages.NewAPRep(key, messages.NewEncAPRepPart(12345))
	if err != nil {
		panic(err)
	}
	b, err := ap.Marshal()
	if err != nil {
		panic(err)
	}
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2})
	return asn1tools.AddASNAppTag(append(append(oid, 0x02, 0x00), b...), 0)
}

// forgedAPRep is an SPNEGO accept-completed answer carrying
// forgedKRB5APRep.
func forgedAPRep() []byte {
	resp := &spnego.NegTokenResp{State: spnego.AcceptCompleted, SupportedMech: asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}, ResponseToken: forgedKRB5APRep()}
	out, err := resp.Marshal(context.Background())
	if err != nil {
		panic(err)
	}
	return out
}

func ldapMessage(id int64, op *ber.Packet) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "id"))
	env.AppendChild(op)
	return env.Bytes()
}

func ldapResult(id int64, tag ber.Tag, code uint16, saslCreds []byte) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "result")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "code"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "message"))
	if saslCreds != nil {
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, string(saslCreds), "serverSaslCreds"))
	}
	return ldapMessage(id, op)
}

// netlogon is a forged NETLOGON_SAM_LOGON_RESPONSE_EX (MS-ADTS 6.3.1.9)
// for the domain, naming PingHostName as a writable DC of it.
func (im *Impostor) netlogon() []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, 23) // LOGON_SAM_LOGON_RESPONSE_EX
	b = binary.LittleEndian.AppendUint16(b, 0)
	// PDC, GC, LDAP, DS, KDC, TIMESERV, CLOSEST, WRITABLE, GOOD_TIMESERV,
	// DNS_CONTROLLER, DNS_DOMAIN, DNS_FOREST.
	b = binary.LittleEndian.AppendUint32(b, 0x1|0x4|0x8|0x10|0x20|0x40|0x80|0x100|0x200|0x20000000|0x40000000|0x80000000)
	guid := make([]byte, 16)
	rand.Read(guid)
	b = append(b, guid...)
	host, _, _ := strings.Cut(im.opts.PingHostName, ".")
	for _, n := range []string{im.opts.Domain, im.opts.Domain, im.opts.PingHostName, Domain, strings.ToUpper(host), "", "Default-First-Site-Name", "Default-First-Site-Name"} {
		b = append(b, dnsName(n)...)
	}
	b = binary.LittleEndian.AppendUint32(b, 5) // NETLOGON_NT_VERSION_1 | 5EX
	b = binary.LittleEndian.AppendUint16(b, 0xffff)
	return binary.LittleEndian.AppendUint16(b, 0xffff)
}

// dnsName encodes n as RFC 1035 labels, uncompressed.
func dnsName(n string) []byte {
	var b []byte
	for _, l := range strings.Split(n, ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// serveCLDAP answers LDAP pings over UDP with the forged answer, echoing
// the request's message ID (an impostor on the path sees it).
func (im *Impostor) serveCLDAP(pc net.PacketConn) {
	defer im.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		p, err := ber.DecodePacketErr(append([]byte(nil), buf[:n]...))
		if err != nil || len(p.Children) < 2 {
			continue
		}
		id, _ := p.Children[0].Value.(int64)
		im.event("cldap: ping")
		if im.opts.Relay {
			if out, err := im.cldapRelay(buf[:n]); err == nil {
				pc.WriteTo(out, from)
			}
			continue
		}
		entry := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "entry")
		entry.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "dn"))
		attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attrs")
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attr")
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "Netlogon", "type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(im.netlogon()), "val"))
		a.AppendChild(set)
		attrs.AppendChild(a)
		entry.AppendChild(attrs)
		out := append(ldapMessage(id, entry), ldapResult(id, ldap.ApplicationSearchResultDone, ldap.LDAPResultSuccess, nil)...)
		pc.WriteTo(out, from)
	}
}

// cldapRelay asks the real DC the same LDAP ping and returns its answer.
func (im *Impostor) cldapRelay(req []byte) ([]byte, error) {
	c, err := net.Dial("udp", net.JoinHostPort(im.dc.Addr, "389"))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	return buf[:n], err
}

// serveDNS answers the SRV record of the domain's DCs with SRVTarget, A
// queries for SRVTarget and names inside the domain with the impostor's
// address, and every other query with "no such name".
func (im *Impostor) serveDNS(pc net.PacketConn) {
	defer im.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		out, err := im.dnsAnswer(h, q)
		if err != nil {
			continue
		}
		pc.WriteTo(out, from)
	}
}

func (im *Impostor) dnsAnswer(h dnsmessage.Header, q dnsmessage.Question) ([]byte, error) {
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	resp := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	b := dnsmessage.NewBuilder(nil, resp)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	target := strings.ToLower(strings.TrimSuffix(im.opts.SRVTarget, "."))
	domain := strings.ToLower(im.opts.Domain)
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	found := false
	switch {
	case q.Type == dnsmessage.TypeSRV && name == "_ldap._tcp.dc._msdcs."+domain:
		t, err := dnsmessage.NewName(target + ".")
		if err != nil {
			return nil, err
		}
		b.SRVResource(hdr, dnsmessage.SRVResource{Priority: 0, Weight: 100, Port: 389, Target: t})
		found = true
		im.event("dns: SRV " + name + " -> " + target)
	case name == target || strings.HasSuffix(name, "."+domain):
		found = true
		if q.Type == dnsmessage.TypeA {
			ip := net.ParseIP(im.Addr).To4()
			b.AResource(hdr, dnsmessage.AResource{A: [4]byte(ip)})
			im.event("dns: A " + name + " -> " + im.Addr)
		}
	}
	if !found {
		resp.RCode = dnsmessage.RCodeNameError
		b = dnsmessage.NewBuilder(nil, resp)
		b.StartQuestions()
		b.Question(q)
	}
	return b.Finish()
}
