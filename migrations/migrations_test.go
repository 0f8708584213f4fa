package migrations_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/migrations"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

func TestCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Own server: Check looks at every namespace on it.
	c := streamstest.Client(t, valkeytest.Start(t).Addr)
	store, err := streams.New(c, streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("RecordsCurrent", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		// A group makes a log without an append, so no version is recorded.
		if _, err := store.CreateGroup(ctx, ns, "worker:w", 0); err != nil {
			t.Fatal(err)
		}
		if v, _ := store.SchemaVersion(ctx, ns); v != 0 {
			t.Fatalf("got version %d before Check, want none", v)
		}
		if err := migrations.Check(ctx, store); err != nil {
			t.Fatal(err)
		}
		if v, _ := store.SchemaVersion(ctx, ns); v != migrations.Current {
			t.Fatalf("got version %d, want %d", v, migrations.Current)
		}
	})
	t.Run("AppendRecordsCurrent", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		streamstest.AppendMixed(t, ctx, store, ns, 1)
		if v, _ := store.SchemaVersion(ctx, ns); v != migrations.Current {
			t.Fatalf("got version %d, want %d", v, migrations.Current)
		}
	})
	t.Run("ErrNewer", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		streamstest.AppendMixed(t, ctx, store, ns, 1)
		streamstest.SetSchemaVersion(t, ctx, c, ns, migrations.Current+1)
		err := migrations.Check(ctx, store)
		if domain.ErrorCode(err) != domain.EINTERNAL || !strings.Contains(err.Error(), ns) || !strings.Contains(err.Error(), "upgrade flowhist") {
			t.Fatalf("got %v, want a refusal naming %s and saying to upgrade", err, ns)
		}
		streamstest.SetSchemaVersion(t, ctx, c, ns, migrations.Current)
	})
}
