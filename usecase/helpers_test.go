package usecase_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/flowhist/flowhist/usecase"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

// mustStore returns a store on the shared test server (a replica's view:
// its own head cache) and a fresh namespace.
func mustStore(tb testing.TB) (*streams.Store, string) {
	tb.Helper()
	s, err := streams.New(streamstest.Client(tb, ""), streams.Config{}, nil)
	if err != nil {
		tb.Fatalf("streams.New: %v", err)
	}
	return s, streamstest.Namespace(tb)
}

// mustApp returns the use cases over s (nil: a store of their own), with a
// projector, as a replica of flowhist runs them.
func mustApp(tb testing.TB, s *streams.Store) *usecase.App {
	tb.Helper()
	if s == nil {
		s, _ = mustStore(tb)
	}
	p, err := projector.New(s, projector.Config{}, nil)
	if err != nil {
		tb.Fatalf("projector.New: %v", err)
	}
	app := usecase.New(s, p, nil, usecase.Config{}, nil, usecase.Metrics{})
	tb.Cleanup(app.Close)
	return app
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// req is a request on ns expecting exp.
func req(ns string, exp domain.Expected) usecase.Request {
	return usecase.Request{Namespace: ns, Expected: exp}
}
