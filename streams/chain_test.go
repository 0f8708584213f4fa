package streams_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// The append script's own SHA-256 must agree with Go's on every padding
// case: lengths around one and two blocks, and every byte value.
func TestSHA256LuaMatchesGo(t *testing.T) {
	s, _ := mustStore(t, streams.Config{})
	c := s.Client()
	ctx := testCtx(t)
	var all strings.Builder
	for b := 0; b < 256; b++ {
		all.WriteByte(byte(b))
	}
	inputs := []string{"", "abc", all.String()}
	for n := 50; n <= 260; n++ {
		inputs = append(inputs, strings.Repeat("x", n))
	}
	for _, in := range inputs {
		got, err := c.Do(ctx, c.B().Eval().Script(streams.SHA256Lua+"\nreturn sha256hex(ARGV[1])").Numkeys(0).Arg(in).Build()).ToString()
		if err != nil {
			t.Fatalf("eval: %v", err)
		}
		sum := sha256.Sum256([]byte(in))
		if want := hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("sha256 of %d bytes: got %s, want %s", len(in), got, want)
		}
	}
}

// Each append links to the one before, and the links a reader computes
// from the stored bytes are the ones the script stored.
func TestAppendChainsEvents(t *testing.T) {
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	var last string
	for i := range 5 {
		res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"n":`+string(rune('0'+i))+`}`)})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		if !streams.IsLink(res.Hash) || res.Hash == last {
			t.Fatalf("append %d: got link %q", i, res.Hash)
		}
		last = res.Hash
	}
	chain, err := s.ChainOf(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if chain.Start != 1 || chain.Head != last || chain.Revision != 5 {
		t.Fatalf("got chain %+v, want start 1, head %s at 5", chain, last)
	}
	events, links, err := s.ReadLinked(ctx, ns, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	check := streams.NewChainCheck(chain)
	for i, l := range links {
		if err := check.Next(l); err != nil {
			t.Fatalf("got %v, want the chain intact", err)
		}
		if events[i].Hash != l.Stored {
			t.Fatalf("event %d: got hash %q, want %q", i+1, events[i].Hash, l.Stored)
		}
	}
	if err := check.End(chain); err != nil {
		t.Fatalf("got %v, want the chain to end at meta's head", err)
	}
	if check.Revision() != domain.Revision(5) {
		t.Fatalf("got %d revisions checked, want 5", check.Revision())
	}
}
