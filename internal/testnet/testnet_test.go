package testnet

import "testing"

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want string
		ok   bool
	}{
		{"", DefaultPrefix, true},
		{"127.0.7", "127.0.7", true},
		{"127.255.0", "127.255.0", true},
		{"10.0.0", "", false},
		{"127.0", "", false},
		{"127.0.0.1", "", false},
		{"127.0.256", "", false},
		{"127.0.07", "", false},
		{"127.x.0", "", false},
	} {
		t.Setenv(Env, tc.env)
		got, err := Prefix()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s=%q: got %q, %v", Env, tc.env, got, err)
		}
	}
}

func TestAddressesFollowThePrefix(t *testing.T) {
	t.Setenv(Env, "127.0.7")
	if DC() != "127.0.7.2" || Daemon() != "127.0.7.3" || Peer() != "127.0.7.4" || Remote() != "127.0.7.9" {
		t.Fatalf("DC %s daemon %s peer %s remote %s", DC(), Daemon(), Peer(), Remote())
	}
	seen := map[string]bool{}
	for _, a := range Assigned() {
		if seen[a] || a == Remote() {
			t.Fatalf("address %s listed twice or the remote address is assigned: %v", a, Assigned())
		}
		seen[a] = true
		if len(Ports()[a]) == 0 {
			t.Errorf("no ports listed for %s", a)
		}
	}
}

func TestIsAssigned(t *testing.T) {
	if IsAssigned("192.0.2.123") {
		t.Error("IsAssigned reports a documentation address as local")
	}
	if !IsAssigned("127.0.0.1") {
		t.Error("IsAssigned misses 127.0.0.1")
	}
}
