package streamstest

import (
	"context"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
)

// The attacks of someone with Valkey's password who wants the history to
// say something else. Each is what valkey-cli allows, nothing flowhist
// offers.

// entryFields are the fields of a log entry, in the order flowhist writes
// them.
var entryFields = []string{"e", "a", "r", "t", "p", "z", "h"}

// Entries returns ns's log entries as stored.
func Entries(tb testing.TB, ctx context.Context, c rueidis.Client, ns string) []rueidis.XRangeEntry {
	tb.Helper()
	entries, err := c.Do(ctx, c.B().Xrange().Key(streams.KeysOf(ns).Log).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		tb.Fatal(err)
	}
	return entries
}

// RewriteLog replaces ns's log with entries, ids and fields as given (a
// stream cannot be edited in place); consumer groups on it are lost.
func RewriteLog(tb testing.TB, ctx context.Context, c rueidis.Client, ns string, entries []rueidis.XRangeEntry) {
	tb.Helper()
	key := streams.KeysOf(ns).Log
	cmds := rueidis.Commands{c.B().Del().Key(key).Build()}
	for _, e := range entries {
		b := c.B().Xadd().Key(key).Id(e.ID).FieldValue()
		for _, f := range entryFields {
			if v, ok := e.FieldValues[f]; ok {
				b = b.FieldValue(f, v)
			}
		}
		cmds = append(cmds, b.Build())
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			tb.Fatal(err)
		}
	}
}

// EditEntry rewrites ns's log with the entry at rev's field replaced by
// edit(old value).
func EditEntry(tb testing.TB, ctx context.Context, c rueidis.Client, ns string, rev domain.Revision, field string, edit func(string) string) {
	tb.Helper()
	entries := Entries(tb, ctx, c, ns)
	for _, e := range entries {
		if e.ID == rev.String()+"-0" {
			e.FieldValues[field] = edit(e.FieldValues[field])
			RewriteLog(tb, ctx, c, ns, entries)
			return
		}
	}
	tb.Fatalf("no revision %d in the log", rev)
}

// FindEntry returns the first revision whose entry's field contains sub.
func FindEntry(tb testing.TB, ctx context.Context, c rueidis.Client, ns, field, sub string) domain.Revision {
	tb.Helper()
	for i, e := range Entries(tb, ctx, c, ns) {
		if strings.Contains(e.FieldValues[field], sub) {
			return domain.Revision(i + 1)
		}
	}
	tb.Fatalf("no entry's %s contains %q", field, sub)
	return 0
}

// Reseal recomputes every link of ns's log from revision 1 and meta's head
// link and revision, as someone who read the (public) chain format would
// after editing entries: the chain then holds, and only a checkpoint kept
// elsewhere tells.
func Reseal(tb testing.TB, ctx context.Context, s *streams.Store, c rueidis.Client, ns string) {
	tb.Helper()
	_, links, err := s.ReadLinked(ctx, ns, 1, 1<<30)
	if err != nil {
		tb.Fatal(err)
	}
	entries := Entries(tb, ctx, c, ns)
	prev := streams.ZeroHash
	for i, l := range links {
		prev = l.After(prev)
		entries[i].FieldValues["h"] = prev
	}
	RewriteLog(tb, ctx, c, ns, entries)
	last := entries[len(entries)-1].ID
	if err := c.Do(ctx, c.B().Hset().Key(streams.KeysOf(ns).Meta).FieldValue().
		FieldValue("h", prev).FieldValue("rev", strings.TrimSuffix(last, "-0")).Build()).Error(); err != nil {
		tb.Fatal(err)
	}
}

// Dump is every key of a namespace, as DUMP serialised it.
type Dump map[string]string

// DumpNamespace serialises every key of ns (the namespace's hash tag).
func DumpNamespace(tb testing.TB, ctx context.Context, c rueidis.Client, ns string) Dump {
	tb.Helper()
	d := Dump{}
	for _, k := range namespaceKeys(tb, ctx, c, ns) {
		v, err := c.Do(ctx, c.B().Dump().Key(k).Build()).ToString()
		if err != nil {
			tb.Fatal(err)
		}
		d[k] = v
	}
	return d
}

// RestoreNamespace puts every key of ns back as d holds it, deleting the
// keys d does not have: the namespace as it was, byte for byte.
func RestoreNamespace(tb testing.TB, ctx context.Context, c rueidis.Client, ns string, d Dump) {
	tb.Helper()
	cmds := rueidis.Commands{}
	for _, k := range namespaceKeys(tb, ctx, c, ns) {
		cmds = append(cmds, c.B().Del().Key(k).Build())
	}
	for k, v := range d {
		cmds = append(cmds, c.B().Restore().Key(k).Ttl(0).SerializedValue(v).Replace().Build())
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			tb.Fatal(err)
		}
	}
}

func namespaceKeys(tb testing.TB, ctx context.Context, c rueidis.Client, ns string) []string {
	tb.Helper()
	prefix := strings.TrimSuffix(streams.KeysOf(ns).Meta, "meta")
	var keys []string
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			return keys
		}
	}
}
