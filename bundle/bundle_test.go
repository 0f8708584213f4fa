package bundle_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/bundle"
	"github.com/flowhist/flowhist/checkpoint"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

// TestRoundTrip writes a log of every kind of event as a bundle and reads
// it back: every revision in order, each with the document its aggregate
// had after it, as the store and the projector have them.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	store, err := streams.New(streamstest.Client(t, ""), streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := streamstest.Namespace(t)
	const n = 24
	streamstest.AppendMixed(t, ctx, store, ns, n)
	// Checkpoints of the source: one the bundle covers, one past it.
	_, priv, _ := ed25519.GenerateKey(nil)
	at10, _ := store.ReadRevision(ctx, ns, 10)
	for _, rev := range []domain.Revision{10, n + 1} {
		c, err := checkpoint.Sign(priv, ns, rev, at10.Hash, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddCheckpoint(ctx, ns, c.Marshal()); err != nil {
			t.Fatal(err)
		}
	}

	var buf bytes.Buffer
	last, err := bundle.Write(ctx, store, ns, 0, &buf)
	if err != nil || last != n {
		t.Fatalf("got %d, %v, want revision %d", last, err, n)
	}
	r, err := bundle.NewReader(&buf, "b.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header; h.Format != bundle.Format || h.Namespace != ns || h.Revision != n || h.Exported.IsZero() {
		t.Fatalf("got header %+v", h)
	}
	var events []bundle.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if len(events) != n {
		t.Fatalf("got %d events, want %d", len(events), n)
	}
	chain, _ := store.ChainOf(ctx, ns)
	if h := r.Header.Chain; h == nil || h.Start != 1 || h.Head != chain.Head || h.Head != events[n-1].Hash {
		t.Fatalf("got chain %+v, want start 1 and head %s", h, chain.Head)
	}
	if len(r.Checkpoints) != 1 || !strings.Contains(string(r.Checkpoints[0]), `"revision":10`) {
		t.Fatalf("got checkpoints %s, want the one at revision 10 only", r.Checkpoints)
	}
	logged, err := store.Read(ctx, ns, streams.Query{From: 1, To: n, Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	latest := map[domain.EventType]bundle.Event{}
	for i, e := range events {
		if le := logged[i]; e.Hash != le.Hash || le.Hash == "" {
			t.Fatalf("event %d: got hash %q, want %q", i, e.Hash, le.Hash)
		}
		if le := logged[i]; e.Revision != le.Revision || e.Type != le.Type || !e.Time.Equal(le.Time) || e.Actor != le.Actor {
			t.Fatalf("event %d: got %d %s %v %+v, want %d %s %v %+v", i, e.Revision, e.Type, e.Time, e.Actor, le.Revision, le.Type, le.Time, le.Actor)
		}
		latest[e.Type] = e
		if e.Type != domain.FlowsDeployed && e.Type != domain.CredentialsSaved {
			continue
		}
		v, err := store.FlowsAt(ctx, ns, e.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Flows, v.Flows.Bytes()) || !bytes.Equal(e.Credentials, v.Credentials) {
			t.Fatalf("revision %d: got flows %.40s… credentials %s, want those of FlowsAt", e.Revision, e.Flows, e.Credentials)
		}
	}
	// The last event of each other kind holds what the state holds now.
	proj, err := projector.New(store, projector.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = proj.View(ctx, ns, func(st *domain.State) error {
		if got := latest[domain.SettingsSaved].Settings; !bytes.Equal(got, st.Settings) {
			t.Errorf("got settings %s, want %s", got, st.Settings)
		}
		if got := latest[domain.PackagesChanged].Packages; !reflect.DeepEqual(got, st.Packages) {
			t.Errorf("got packages %+v, want %+v", got, st.Packages)
		}
		if got := latest[domain.ProjectActivated].Project; got == nil || *got != st.Project.Name {
			t.Errorf("got project %v, want %q", got, st.Project.Name)
		}
		e := latest[domain.LibrarySaved].Entry
		if e == nil || !reflect.DeepEqual(*e, st.Library[domain.LibraryAggregate(e.Type, e.Path)]) {
			t.Errorf("got library entry %+v, want the state's", e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("UpToRevision", func(t *testing.T) {
		var buf bytes.Buffer
		if last, err := bundle.Write(ctx, store, ns, 5, &buf); err != nil || last != 5 || strings.Count(buf.String(), "\n") != 6 {
			t.Fatalf("got %d, %v, %d lines; want revision 5 in 6 lines", last, err, strings.Count(buf.String(), "\n"))
		}
	})
	t.Run("ErrNoSuchRevision", func(t *testing.T) {
		_, err := bundle.Write(ctx, store, ns, n+1, io.Discard)
		if domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("got %v, want not found", err)
		}
	})
	t.Run("ErrNoSuchNamespace", func(t *testing.T) {
		_, err := bundle.Write(ctx, store, streamstest.Namespace(t), 0, io.Discard)
		if domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("got %v, want not found", err)
		}
	})
}

func TestReader(t *testing.T) {
	header := `{"flowhistExport":1,"namespace":"x","revision":3}` + "\n"
	line := func(rev int, typ, rest string) string {
		b, _ := json.Marshal(map[string]any{"revision": rev, "type": typ})
		return strings.TrimSuffix(string(b), "}") + rest + "}\n"
	}
	t.Run("BlankLinesSkipped", func(t *testing.T) {
		r, err := bundle.NewReader(strings.NewReader(header+"\n"+line(2, "project.activated", `,"project":"p"`)+"  \n"), "b")
		if err != nil {
			t.Fatal(err)
		}
		e, err := r.Next()
		if err != nil || e.Revision != 2 || *e.Project != "p" || r.Where() != "b line 3" {
			t.Fatalf("got %+v, %v at %s", e, err, r.Where())
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("got %v, want EOF", err)
		}
	})
	for _, tc := range []struct{ name, text, want string }{
		{"ErrEmpty", "", "b: empty"},
		{"ErrHeader", `{"foo":1}` + "\n", "b line 1: not a flowhist history bundle header"},
		{"ErrFormat", `{"flowhistExport":9,"namespace":"x"}` + "\n", "b line 1: bundle format 9 is not readable by this version (reads 1)"},
		{"ErrBrokenLine", header + "{broken\n", "b line 2: not a bundle event"},
		{"ErrOrder", header + line(2, "settings.saved", `,"settings":{}`) + line(2, "settings.saved", `,"settings":{}`), "b line 3: revision 2 does not follow 2"},
		{"ErrLibraryWithoutEntry", header + line(1, "library.saved", ""), `b line 2: library event without "entry"`},
		{"ErrProjectWithoutName", header + line(1, "project.activated", ""), `b line 2: project event without "project"`},
		{"ErrProjectOutside", header + line(1, "project.activated", `,"project":"../../outside/evilproj"`), `b line 2: project name "../../outside/evilproj" has a path separator`},
		{"ErrProjectDotDot", header + line(1, "project.activated", `,"project":".."`), `b line 2: project name ".." is not a directory name`},
		{"ErrLibraryPathOutside", header + line(1, "library.saved", `,"entry":{"type":"functions","path":"../../etc/x.js","body":""}`), `b line 2: library path "../../etc/x.js" has an empty, '.' or '..' segment`},
		{"ErrLibraryPathAbsolute", header + line(1, "library.saved", `,"entry":{"type":"functions","path":"/etc/x.js","body":""}`), `b line 2: library path "/etc/x.js" has an empty, '.' or '..' segment`},
		{"ErrLibraryTypeOutside", header + line(1, "library.saved", `,"entry":{"type":"..","path":"x.js","body":""}`), `b line 2: library type ".." is not a name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := bundle.NewReader(strings.NewReader(tc.text), "b")
			for err == nil {
				_, err = r.Next()
			}
			if errors.Is(err, io.EOF) || domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want invalid: %s", err, tc.want)
			}
		})
	}
}
