package projector_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/flowhist/flowhist/projector"
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

func mustStore(tb testing.TB, c rueidis.Client) *streams.Store {
	tb.Helper()
	s, err := streams.New(c, streams.Config{SnapshotEvery: 20}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustProjector(tb testing.TB, s *streams.Store, cfg projector.Config) *projector.Projector {
	tb.Helper()
	p, err := projector.New(s, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func randomNS(tb testing.TB) string { return streamstest.Namespace(tb) }

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// mustVerify fails unless ns's state equals the fold of its log.
func mustVerify(tb testing.TB, ctx context.Context, s *streams.Store, ns string) projector.Report {
	tb.Helper()
	r, err := projector.Verify(ctx, s, ns)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	if !r.OK {
		tb.Fatalf("Verify: %+v", r)
	}
	return r
}
