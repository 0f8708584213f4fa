package streamstest

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"
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

// NotifyRounds runs b.N rounds of a notification benchmark. Before each
// round, ready (untimed) waits until every listener waits; notify sends the
// change and returns when it was sent and when its sender got the answer (a
// deploy's 200, a PUBLISH's reply); last returns when the round's last
// listener heard of it. It reports the time from the answer to the last
// listener (p50-us, p99-us; 0 when all heard before the answer, counted in
// early-%) and from sending (sent-p50-us, sent-p99-us).
func NotifyRounds(b *testing.B, ready func(), notify func(round int) (sent, answered time.Time), last func() time.Time) {
	var fromSent, fromAnswer []time.Duration
	early := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ready()
		b.StartTimer()
		sent, answered := notify(i)
		heard := last()
		b.StopTimer()
		fromSent = append(fromSent, heard.Sub(sent))
		d := heard.Sub(answered)
		if d < 0 {
			d, early = 0, early+1
		}
		fromAnswer = append(fromAnswer, d)
	}
	ReportPercentiles(b, "", fromAnswer)
	ReportPercentiles(b, "sent-", fromSent)
	b.ReportMetric(100*float64(early)/float64(b.N), "early-%")
}

// Publish sends the old module's flows-updated message (Date.now() in ms)
// on channel, for NotifyRounds: it returns when it was sent and when
// PUBLISH returned.
func Publish(b *testing.B, c rueidis.Client, channel string) (sent, returned time.Time) {
	cmd := c.B().Publish().Channel(channel).Message(strconv.FormatInt(time.Now().UnixMilli(), 10)).Build()
	sent = time.Now()
	if err := c.Do(context.Background(), cmd).Error(); err != nil {
		b.Fatal(err)
	}
	return sent, time.Now()
}

// Deploy sends req (a deploy to flowhist) for NotifyRounds: it returns
// when it was sent and when its 200 was read, failing b on any other
// answer.
func Deploy(b *testing.B, c *http.Client, req *http.Request) (sent, answered time.Time) {
	sent = time.Now()
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: got status %d, want 200", req.Method, req.URL.Path, res.StatusCode)
	}
	return sent, time.Now()
}
