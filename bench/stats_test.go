package bench

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 50}, {0.99, 99}, {1, 100}, {-1, 1}, {2, 100}, {math.NaN(), 0}} {
		if got := Quantile(lat, tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if Quantile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]time.Duration{3, 1, 2, 4}, 1, 2*time.Second)
	if s.Count != 4 || s.Errors != 1 || s.Rate != 2 || s.P50 != 2 || s.P99 != 4 || s.Max != 4 {
		t.Fatalf("%+v", s)
	}
	s.ServerCPU = 8
	if s.CPUPerOp() != 2 {
		t.Fatal(s.CPUPerOp())
	}
	if (Summary{}).CPUPerOp() != 0 || Summarize(nil, 0, 0).Rate != 0 {
		t.Fatal("zero summary")
	}
}

func TestMerge(t *testing.T) {
	e := errors.New("x")
	m := Merge([]Summary{
		{Count: 10, Rate: 100, P50: 1, P99: 10, Max: 20, ServerCPU: 100},
		{Count: 20, Rate: 300, P50: 3, P99: 30, Max: 40, ServerCPU: 400, Errors: 1, FirstError: e},
		{Count: 30, Rate: 200, P50: 2, P99: 20, Max: 30, ServerCPU: 90},
	})
	if m.Count != 60 || m.Errors != 1 || m.Rate != 200 || m.P50 != 2 || m.P99 != 20 || m.Max != 30 || m.FirstError != e {
		t.Fatalf("%+v", m)
	}
	if m.CPUPerOp() != 10 { // per-op costs 10, 20, 3: median 10
		t.Fatalf("cpu per op %v", m.CPUPerOp())
	}
	if Merge([]Summary{{Rate: 1}, {Rate: 3}}).Rate != 2 {
		t.Fatal("even median")
	}
	if (Merge(nil) != Summary{}) {
		t.Fatal("empty merge")
	}
}
