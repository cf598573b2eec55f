package budget

import (
	"sync"
	"testing"
)

func TestNested(t *testing.T) {
	global := New(100, nil)
	a, b := New(60, global), New(60, global)
	if !a.TryReserve(60) {
		t.Fatal("a at its limit")
	}
	if a.TryReserve(1) {
		t.Fatal("a one past its limit")
	}
	if !b.TryReserve(40) {
		t.Fatal("b within the global limit")
	}
	if b.TryReserve(1) || b.Used() != 40 {
		t.Fatalf("b one past the global limit, used %d", b.Used())
	}
	a.Release(10)
	if !b.TryReserve(10) || global.Used() != 100 {
		t.Fatalf("global used %d", global.Used())
	}
	a.Charge(5) // beyond the limits, unconditionally
	if a.Used() != 55 || global.Used() != 105 {
		t.Fatalf("after Charge: a %d, global %d", a.Used(), global.Used())
	}
	a.Release(55)
	b.Release(50)
	if global.Used() != 0 {
		t.Fatalf("global used %d after releasing all", global.Used())
	}
	var none *Budget
	if !none.TryReserve(1 << 40) {
		t.Fatal("a nil budget is unlimited")
	}
	none.Release(1)
	none.Charge(1)
}

func TestConcurrent(t *testing.T) {
	global := New(1000, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for i := 0; i < 8; i++ {
		c := New(300, global)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				if c.TryReserve(7) {
					mu.Lock()
					got += 7
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if got > 1000 || int64(got) != global.Used() {
		t.Fatalf("reserved %d, global used %d", got, global.Used())
	}
}

// Over is true once Charge took a budget or an ancestor past its limit,
// not at the limit.
func TestOver(t *testing.T) {
	global := New(100, nil)
	conn := New(60, global)
	other := New(60, global)
	conn.Charge(60)
	if conn.Over() || global.Over() {
		t.Fatal("at the limit is not over it")
	}
	conn.Charge(1)
	if !conn.Over() || global.Over() || other.Over() {
		t.Fatalf("one byte past the connection's limit: conn %v global %v other %v", conn.Over(), global.Over(), other.Over())
	}
	other.Charge(40)
	if !other.Over() {
		t.Fatal("the global budget is past its limit: every connection in it is over")
	}
	conn.Release(61)
	other.Release(40)
	if conn.Over() || other.Over() || (*Budget)(nil).Over() {
		t.Fatal("over after the release")
	}
}
