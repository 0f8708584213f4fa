package migrations_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/migrations"
	"github.com/flowhist/flowhist/projector"
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

// TestAnchorsALogWrittenBeforeTheChain: a namespace of schema 1 (entries
// without links) refuses appends until the migration anchors it; then
// verify checks the old entries through the anchor and says where stored
// links start, and appends chain on.
func TestAnchorsALogWrittenBeforeTheChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := streamstest.Client(t, valkeytest.Start(t).Addr)
	store, err := streams.New(c, streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := streamstest.Namespace(t)
	streamstest.AppendMixed(t, ctx, store, ns, 24)
	// As flowhist with schema 1 wrote it.
	entries := streamstest.Entries(t, ctx, c, ns)
	for _, e := range entries {
		delete(e.FieldValues, "h")
	}
	streamstest.RewriteLog(t, ctx, c, ns, entries)
	if err := c.Do(ctx, c.B().Hdel().Key(streams.KeysOf(ns).Meta).Field("h").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	streamstest.SetSchemaVersion(t, ctx, c, ns, 1)

	err = streamstest.AppendEvent(ctx, store, ns, domain.PackagesChanged, domain.AggregatePackages, domain.PackagesPayload{}, "")
	if domain.ErrorCode(err) != domain.EINTERNAL || !strings.Contains(err.Error(), "migrates every namespace") {
		t.Fatalf("append before the migration: got %v, want a refusal saying to migrate", err)
	}
	if err := migrations.Check(ctx, store); err != nil {
		t.Fatal(err)
	}
	if v, _ := store.SchemaVersion(ctx, ns); v != migrations.Current {
		t.Fatalf("got version %d, want %d", v, migrations.Current)
	}
	if err := migrations.Check(ctx, store); err != nil { // idempotent
		t.Fatal(err)
	}
	streamstest.AppendMixed(t, ctx, store, ns, 3)
	p, err := projector.New(store, projector.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	r, err := projector.Verify(ctx, store, ns)
	if err != nil || !r.OK || r.ChainStart != 25 || r.Revisions != 27 {
		t.Fatalf("got %+v (%v), want OK over 27 revisions with the chain starting at 25", r, err)
	}
	// An old entry changed after the anchor breaks the chain at its start.
	streamstest.EditEntry(t, ctx, c, ns, 4, "e", func(e string) string { return strings.Replace(e, `"type":"`, `"reason":"x","type":"`, 1) })
	r, err = projector.Verify(ctx, store, ns)
	if err != nil || r.OK || r.BadRevision != 25 || !strings.Contains(r.Problem, "anchor") {
		t.Fatalf("got %+v (%v), want the chain broken at its start, 25, against the anchor", r, err)
	}
}
