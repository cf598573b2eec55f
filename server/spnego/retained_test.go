package spnego

import (
	"encoding/asn1"
	"errors"
	"testing"
)

// An unfinished exchange keeps the mechTypes list for the mechListMIC: a
// list above MaxMechTypesDER is refused, one at it is accepted.
func TestMechTypesCap(t *testing.T) {
	a := New(Config{Mechanisms: []Mechanism{&fakeMech{oids: []asn1.ObjectIdentifier{oidA}, enabled: true, legs: 2}}})
	mechs := []asn1.ObjectIdentifier{oidA}
	for i := 0; len(MarshalMechTypes(mechs)) <= MaxMechTypesDER; i++ {
		mechs = append(mechs, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 100 + i})
	}
	if _, _, err := a.NewExchange().Step(MarshalNegTokenInit(mechs, []byte("leg1"), nil)); !errors.Is(err, ErrBadToken) {
		t.Fatalf("mechTypes of %d bytes: %v", len(MarshalMechTypes(mechs)), err)
	}
	// Shrink to exactly the cap by shortening the last OID's arc list.
	for len(MarshalMechTypes(mechs)) > MaxMechTypesDER {
		mechs = mechs[:len(mechs)-1]
	}
	for n := MaxMechTypesDER - len(MarshalMechTypes(mechs)); n > 0; {
		// Each extra arc below 128 adds one byte to the OID and the list.
		last := append(asn1.ObjectIdentifier(nil), mechs[len(mechs)-1]...)
		last = append(last, 1)
		trial := append(append([]asn1.ObjectIdentifier(nil), mechs[:len(mechs)-1]...), last)
		if len(MarshalMechTypes(trial)) > MaxMechTypesDER {
			break
		}
		mechs = trial
		n = MaxMechTypesDER - len(MarshalMechTypes(mechs))
	}
	size := len(MarshalMechTypes(mechs))
	if size != MaxMechTypesDER {
		t.Fatalf("built a list of %d bytes, want %d", size, MaxMechTypesDER)
	}
	if _, _, err := a.NewExchange().Step(MarshalNegTokenInit(mechs, []byte("leg1"), nil)); err != nil {
		t.Fatalf("mechTypes of %d bytes (cap %d): %v", size, MaxMechTypesDER, err)
	}
}
