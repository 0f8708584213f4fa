package streams_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

func mustClient(tb testing.TB, addr string) rueidis.Client {
	tb.Helper()
	return streamstest.Client(tb, addr)
}

// mustStore returns a store on the shared test server and a fresh namespace.
func mustStore(tb testing.TB, cfg streams.Config) (*streams.Store, string) {
	tb.Helper()
	s, err := streams.New(mustClient(tb, ""), cfg, nil)
	if err != nil {
		tb.Fatalf("streams.New: %v", err)
	}
	return s, randomNS(tb)
}

func randomNS(tb testing.TB) string { return streamstest.Namespace(tb) }

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// settingsEvent is a small event of its own aggregate.
func settingsEvent(ns string, body string) domain.Event {
	payload, _ := domain.EncodePayload(domain.SettingsPayload{Settings: []byte(body)})
	return domain.Event{
		Type: domain.SettingsSaved, Namespace: ns, Aggregate: domain.AggregateSettings,
		Provenance: domain.Provenance{Actor: domain.Actor{User: "alice", Channel: domain.ChannelAPI}, SHA256: domain.SHA256Hex([]byte(body))},
		Schema:     domain.SettingsPayloadSchema, Payload: payload,
	}
}

func mustParse(tb testing.TB, doc []byte) *domain.Flows {
	tb.Helper()
	f, err := domain.ParseFlows(doc)
	if err != nil {
		tb.Fatalf("ParseFlows: %v", err)
	}
	return f
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := domain.ErrorCode(err); got != code {
		tb.Fatalf("got error code %q (%v), want %q", got, err, code)
	}
}
