package streams_test

import (
	"testing"

	"github.com/flowhist/flowhist/streams"
)

func TestWorkerStatus(t *testing.T) {
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)

	t.Run("NoneReportedIsEmpty", func(t *testing.T) {
		got, err := s.WorkerStatuses(ctx, ns)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want no states", got, err)
		}
	})

	t.Run("LastReportPerWorkerWins", func(t *testing.T) {
		for _, r := range []struct{ worker, report string }{
			{"w1", `{"ok":false}`}, {"w2", `{"ok":true}`}, {"w1", `{"ok":true,"revision":7}`},
		} {
			if err := s.SaveWorkerStatus(ctx, ns, r.worker, []byte(r.report)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.WorkerStatuses(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got["w1"]) != `{"ok":true,"revision":7}` || string(got["w2"]) != `{"ok":true}` {
			t.Fatalf("got %q, want w1's last report and w2's", got)
		}
	})

	t.Run("OtherNamespacesSeeNone", func(t *testing.T) {
		got, err := s.WorkerStatuses(ctx, ns+"-other")
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want no states", got, err)
		}
	})
}
