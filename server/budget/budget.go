package budget

import "sync/atomic"

// Budget is a byte limit, possibly nested in a parent. The zero value is
// not usable; a nil *Budget is unlimited. It is safe for concurrent use.
type Budget struct {
	limit  int64
	parent *Budget
	used   atomic.Int64
}

// New returns a budget of limit bytes inside parent (nil for none). A
// reservation succeeds only when it fits in the budget and in every
// ancestor.
func New(limit int64, parent *Budget) *Budget {
	return &Budget{limit: limit, parent: parent}
}

// TryReserve takes n bytes if they fit here and in every ancestor, and
// reports whether it did; on false nothing is taken.
func (b *Budget) TryReserve(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	d := int64(n)
	for {
		u := b.used.Load()
		if u+d > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+d) {
			break
		}
	}
	if !b.parent.TryReserve(n) {
		b.used.Add(-d)
		return false
	}
	return true
}

// Charge takes n bytes unconditionally, even beyond the limit: for small
// control messages and for bytes that replace ones just released.
func (b *Budget) Charge(n int) {
	for ; b != nil && n > 0; b = b.parent {
		b.used.Add(int64(n))
	}
}

// Release gives back n bytes taken by TryReserve or Charge.
func (b *Budget) Release(n int) {
	for ; b != nil && n > 0; b = b.parent {
		b.used.Add(-int64(n))
	}
}

// Over reports whether Charge took this budget or an ancestor past its
// limit: nothing more should be taken in until bytes are released.
func (b *Budget) Over() bool {
	for ; b != nil; b = b.parent {
		if b.used.Load() > b.limit {
			return true
		}
	}
	return false
}

// Used is the number of bytes taken now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Limit is the budget's limit in bytes.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}
