package streamstest

import (
	"slices"
	"testing"
	"time"
)

// Latencies times the measured part of each benchmark iteration (building
// its input is excluded) and reports p50 and p99 next to Go's mean: a
// deploy's tail matters as much as its average.
type Latencies struct {
	b  *testing.B
	t0 time.Time
	d  []time.Duration
}

// NewLatencies resets and stops b's timer; Start and Stop bracket what is
// measured.
func NewLatencies(b *testing.B) *Latencies {
	b.ResetTimer()
	b.StopTimer()
	return &Latencies{b: b, d: make([]time.Duration, 0, b.N)}
}

// Start starts timing one iteration.
func (l *Latencies) Start() { l.b.StartTimer(); l.t0 = time.Now() }

// Stop ends timing one iteration.
func (l *Latencies) Stop() { l.d = append(l.d, time.Since(l.t0)); l.b.StopTimer() }

// Report reports the p50 and p99 of the iterations as p50-us and p99-us.
func (l *Latencies) Report() { ReportPercentiles(l.b, "", l.d) }

// ReportPercentiles reports the p50 and p99 of d in microseconds, named
// with prefix.
func ReportPercentiles(b *testing.B, prefix string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), prefix+"p50-us")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), prefix+"p99-us")
}
