package keytab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"
	"golang.org/x/crypto/md4"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
)

// DefaultEncTypes are the key types written when Entries.EncTypes is
// empty: AES256-CTS-HMAC-SHA1-96, AES128-CTS-HMAC-SHA1-96 and RC4-HMAC
// (the 0x1C of msDS-SupportedEncryptionTypes, MS-KILE 2.2.7).
var DefaultEncTypes = []int32{
	etypeID.AES256_CTS_HMAC_SHA1_96,
	etypeID.AES128_CTS_HMAC_SHA1_96,
	etypeID.RC4_HMAC,
}

// Entries describes the keys of one computer account.
type Entries struct {
	// ComputerName is the NetBIOS name without the trailing '$'. Required.
	ComputerName string
	// DNSHostName is the computer's fully qualified name (host/fqdn).
	// Default "": name.realm in lower case.
	DNSHostName string
	// Realm is the Kerberos realm (the DNS domain in upper case). Required.
	Realm string
	// Password is the machine account password. Required; never logged.
	Password string
	// KVNO is the key version number the KDC reports (msDS-KeyVersionNumber).
	// Default 0 is written as 1.
	KVNO uint32
	// Aliases are alternate names of the computer (DNS names, NetBIOS
	// names): each adds host/ and RestrictedKrbHost/ principals with the
	// same keys. Default none.
	Aliases []string
	// EncTypes are the key types to write. Default DefaultEncTypes.
	EncTypes []int32
	// Timestamp is stored with each entry. Default time.Now().
	Timestamp time.Time
}

// Salt returns the salt Active Directory uses for the keys of a computer
// account (MS-KILE 3.1.1.2): the realm in upper case, "host", the account
// name without '$' in lower case, ".", the realm in lower case. For
// EXAMPLE.TEST and WS1 that is "EXAMPLE.TESThostws1.example.test".
func Salt(realm, computerName string) string {
	name := strings.ToLower(strings.TrimSuffix(computerName, "$"))
	return strings.ToUpper(realm) + "host" + name + "." + strings.ToLower(realm)
}

// Principals returns the principal names (without realm) the keytab
// holds: NAME$, host/NAME, host/fqdn, RestrictedKrbHost/NAME and
// RestrictedKrbHost/fqdn, then host/ and RestrictedKrbHost/ of every
// alias (DNS names in lower case, NetBIOS names in upper case).
func (e Entries) Principals() []string {
	name := strings.ToUpper(strings.TrimSuffix(e.ComputerName, "$"))
	fqdn := e.fqdn()
	out := []string{
		name + "$",
		"host/" + name,
		"host/" + fqdn,
		"RestrictedKrbHost/" + name,
		"RestrictedKrbHost/" + fqdn,
	}
	seen := map[string]bool{strings.ToLower(name): true, fqdn: true}
	for _, a := range e.Aliases {
		if strings.Contains(a, ".") {
			a = strings.ToLower(a)
		} else {
			a = strings.ToUpper(a)
		}
		if a == "" || seen[strings.ToLower(a)] {
			continue
		}
		seen[strings.ToLower(a)] = true
		out = append(out, "host/"+a, "RestrictedKrbHost/"+a)
	}
	return out
}

func (e Entries) fqdn() string {
	if e.DNSHostName != "" {
		return strings.ToLower(e.DNSHostName)
	}
	return strings.ToLower(strings.TrimSuffix(e.ComputerName, "$") + "." + e.Realm)
}

func (e Entries) validate() error {
	name := strings.TrimSuffix(e.ComputerName, "$")
	switch {
	case name == "" || strings.ContainsAny(name, "/@\x00"):
		return errors.New("keytab: invalid computer name")
	case e.Realm == "" || strings.ContainsAny(e.Realm, "/@\x00"):
		return errors.New("keytab: invalid realm")
	case e.Password == "":
		return errors.New("keytab: empty password")
	case strings.ContainsAny(e.DNSHostName, "/@\x00"):
		return errors.New("keytab: invalid DNS host name")
	}
	return nil
}

// Build returns the keytab for e (gokrb5's keytab format version 0x502).
func Build(e Entries) (*gokeytab.Keytab, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	kvno := e.KVNO
	if kvno == 0 {
		kvno = 1
	}
	ts := e.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	ets := e.EncTypes
	if len(ets) == 0 {
		ets = DefaultEncTypes
	}
	realm := strings.ToUpper(e.Realm)
	salt := Salt(realm, e.ComputerName)
	kt := gokeytab.New()
	for _, et := range ets {
		etype, err := crypto.GetEtype(et)
		if err != nil {
			return nil, fmt.Errorf("keytab: encryption type %d: %w", et, err)
		}
		// gokrb5 derives AddEntry's key with the default (user) salt;
		// the key is replaced below with the computer-account salt.
		var key []byte
		if et == etypeID.RC4_HMAC {
			// RFC 4757 2: MD4 of the UTF-16LE password (gokrb5's own
			// conversion mishandles characters outside ASCII).
			key = ntHash(e.Password)
		} else if key, err = etype.StringToKey(e.Password, salt, etype.GetDefaultStringToKeyParams()); err != nil {
			return nil, fmt.Errorf("keytab: deriving the type %d key: %w", et, err)
		}
		for _, p := range e.Principals() {
			// The password handed to AddEntry only feeds the key that is
			// overwritten; a fixed ASCII string keeps gokrb5's RC4
			// conversion from failing on characters outside the BMP.
			if err := kt.AddEntry(p, realm, "x", ts, uint8(kvno), et); err != nil {
				return nil, fmt.Errorf("keytab: adding %s: %w", p, err)
			}
			ent := &kt.Entries[len(kt.Entries)-1]
			ent.Key.KeyValue = append([]byte(nil), key...)
			ent.KVNO = kvno
			ent.KVNO8 = uint8(kvno)
		}
	}
	return kt, nil
}

// ntHash is MD4 over the UTF-16LE encoding of password (the RC4-HMAC key,
// RFC 4757 2).
func ntHash(password string) []byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	h := md4.New()
	h.Write(b)
	clear(b)
	return h.Sum(nil)
}

// Write builds the keytab for e and replaces path with it atomically: a
// temporary file in the same directory, written with mode 0600, synced,
// renamed over path, then the directory synced.
func Write(path string, e Entries) error {
	kt, err := Build(e)
	if err != nil {
		return err
	}
	b, err := kt.Marshal()
	if err != nil {
		return fmt.Errorf("keytab: encoding: %w", err)
	}
	defer clear(b)
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("keytab: %w", err)
	}
	return nil
}
