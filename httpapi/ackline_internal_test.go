package httpapi

import (
	"testing"

	"github.com/flowhist/flowhist/streams"
)

// TestAckLineFastPath: the two forms workers send, {"ack":N} and
// {"ack":N,"id":"…"}, are read without the JSON decoder (a deploy brings
// one from every worker at once): no allocation for the plain form, one
// (the id) for the other; other spellings go through the decoder.
func TestAckLineFastPath(t *testing.T) {
	const id = "01900000-0000-7000-8000-000000000000"
	for _, c := range []struct {
		line   string
		want   streams.Position
		allocs float64
	}{
		{`{"ack":12}`, streams.Position{Revision: 12}, 0},
		{`{"ack":12,"id":"` + id + `"}`, streams.Position{Revision: 12, ID: id}, 1},
		{`{"id":"` + id + `","ack":12}`, streams.Position{Revision: 12, ID: id}, -1},
		{`{ "ack": 12 }`, streams.Position{Revision: 12}, -1},
	} {
		got, ok := ackLine([]byte(c.line))
		if !ok || got != c.want {
			t.Errorf("%s: got %+v, %v, want %+v", c.line, got, ok, c.want)
		}
		if c.allocs < 0 {
			continue
		}
		line := []byte(c.line)
		if n := testing.AllocsPerRun(100, func() { ackLine(line) }); n > c.allocs {
			t.Errorf("%s: %v allocations, want at most %v: the fast path was missed", c.line, n, c.allocs)
		}
	}
}
