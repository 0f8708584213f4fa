// Package streamstest damages a namespace's keys the way a person with
// valkey-cli could, so that tests can show that verification notices. The
// key names come from streams.KeysOf.
package streamstest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
)

// CorruptEvent replaces old with new in the payload of the first revision
// at or after from whose (uncompressed) payload contains old, and returns
// that revision. Stream entries cannot be edited in place, so the log is
// rewritten with the same ids; consumer groups on it are lost.
func CorruptEvent(tb testing.TB, ctx context.Context, c rueidis.Client, ns string, from domain.Revision, old, new []byte) domain.Revision {
	tb.Helper()
	key := streams.KeysOf(ns).Log
	entries, err := c.Do(ctx, c.B().Xrange().Key(key).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		tb.Fatal(err)
	}
	var target domain.Revision
	cmds := rueidis.Commands{c.B().Del().Key(key).Build()}
	for i, e := range entries {
		fields := e.FieldValues
		if target == 0 && domain.Revision(i+1) >= from && fields["z"] == "" && bytes.Contains([]byte(fields["p"]), old) {
			fields["p"] = string(bytes.Replace([]byte(fields["p"]), old, new, 1))
			target = domain.Revision(i + 1)
		}
		b := c.B().Xadd().Key(key).Id(e.ID).FieldValue()
		for _, f := range []string{"e", "a", "r", "t", "p", "z", "h"} {
			b = b.FieldValue(f, fields[f])
		}
		cmds = append(cmds, b.Build())
	}
	if target == 0 {
		tb.Fatalf("no revision from %d has %q in its payload", from, old)
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			tb.Fatal(err)
		}
	}
	return target
}

// CorruptState overwrites one field of ns's projected state.
func CorruptState(tb testing.TB, ctx context.Context, c rueidis.Client, ns, field, value string) {
	tb.Helper()
	if err := c.Do(ctx, c.B().Hset().Key(streams.KeysOf(ns).State).FieldValue().FieldValue(field, value).Build()).Error(); err != nil {
		tb.Fatal(err)
	}
}

// SetSchemaVersion overwrites the keyspace schema version recorded for ns,
// as a newer (or older) flowhist would have written it.
func SetSchemaVersion(tb testing.TB, ctx context.Context, c rueidis.Client, ns string, v int) {
	tb.Helper()
	if err := c.Do(ctx, c.B().Hset().Key(streams.KeysOf(ns).Meta).FieldValue().FieldValue("schema", fmt.Sprint(v)).Build()).Error(); err != nil {
		tb.Fatal(err)
	}
}
