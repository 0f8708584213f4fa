package streamstest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// Client connects to the Valkey at addr (the test binary's shared server
// when addr is empty) and closes the connection when tb ends.
func Client(tb testing.TB, addr string) rueidis.Client {
	tb.Helper()
	if addr == "" {
		addr = valkeytest.Shared(tb)
	}
	c, err := streams.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		tb.Fatalf("connect to valkey at %s: %v", addr, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// Namespace returns a fresh random namespace, so tests sharing a server run
// in parallel without seeing each other.
func Namespace(tb testing.TB) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "t-" + hex.EncodeToString(b)
}
