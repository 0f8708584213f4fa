package projector_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/oldmodule"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// TestCompatKeys reads the old module's keys the way node-red-storage-valkey
// does (GET, strip "gzip:", JSON) after flowhist projected a deploy.
func TestCompatKeys(t *testing.T) {
	t.Parallel()
	for _, compress := range []bool{false, true} {
		name := "Plain"
		if compress {
			name = "Gzip"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Own server: "nodered:packages" ignores the prefix, so
			// namespaces sharing a server would share it.
			srv := valkeytest.Start(t)
			c := mustClient(t, srv.Addr)
			ctx := testCtx(t)
			s := mustStore(t, c)
			ns := randomNS(t)
			p := mustProjector(t, s, projector.Config{Compat: map[string]projector.Compat{ns: {Prefix: "nr:", Compress: compress}}})

			msgs := make(chan string, 10)
			sub, cancel := c.Dedicate()
			defer cancel()
			wait := sub.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(m rueidis.PubSubMessage) { msgs <- m.Channel + " " + m.Message }})
			if err := sub.Do(ctx, sub.B().Subscribe().Channel("nr:flows:updated", "nodered:packages:updated").Build()).Error(); err != nil {
				t.Fatal(err)
			}
			_ = wait

			doc := domaintest.NewDoc(20) // > 1024 bytes: compressed when on
			creds := []byte(`{"$":"00112233445566778899aabbccddeeffAAAA"}`)
			f, _ := domain.ParseFlows(doc.Bytes())
			if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: f, Credentials: creds}, ""); err != nil {
				t.Fatal(err)
			}
			settings := `{"_credentialSecret":"x","nodes":{}}`
			mustAppend(t, streamstest.AppendEvent(ctx, s, ns, domain.SettingsSaved, domain.AggregateSettings, domain.SettingsPayload{Settings: []byte(settings)}, settings))
			lib := domain.LibraryEntry{Type: "functions", Path: "team/a.js", Meta: json.RawMessage(`{"outputs":2}`), Body: "return msg;"}
			mustAppend(t, streamstest.AppendEvent(ctx, s, ns, domain.LibrarySaved, domain.LibraryAggregate(lib.Type, lib.Path), domain.LibraryPayload{Entry: lib}, ""))
			mustAppend(t, streamstest.AppendEvent(ctx, s, ns, domain.PackagesChanged, domain.AggregatePackages, domain.PackagesPayload{Packages: []domain.Package{{Name: "node-red-contrib-a", Version: "1.0.0"}, {Name: "node-red-dashboard", Version: "3.6.0"}}}, ""))
			mustAppend(t, streamstest.AppendEvent(ctx, s, ns, domain.ProjectActivated, domain.AggregateProject, domain.ProjectPayload{Name: "shop"}, ""))
			before := time.Now()
			if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
				t.Fatal(err)
			}

			get := func(key string) []byte {
				t.Helper()
				v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsBytes()
				if err != nil {
					t.Fatalf("GET %s: %v", key, err)
				}
				if compress && len(v) > 1024 && !bytes.HasPrefix(v, []byte("gzip:")) {
					t.Fatalf("%s is %d bytes and not gzip: with compression on", key, len(v))
				}
				out, err := oldmodule.Decode(v)
				if err != nil {
					t.Fatalf("decode %s: %v", key, err)
				}
				return out
			}
			var flows struct {
				Flows json.RawMessage `json:"flows"`
				Rev   string          `json:"rev"`
			}
			if err := json.Unmarshal(get("nr:flows"), &flows); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(flows.Flows, doc.Bytes()) || flows.Rev != domain.SHA256Hex(doc.Bytes()) {
				t.Fatalf("nr:flows does not hold the document and its sha256 rev")
			}
			if got := get("nr:credentials"); !bytes.Equal(got, creds) {
				t.Fatalf("got credentials %s, want %s", got, creds)
			}
			if got := get("nr:settings"); string(got) != settings {
				t.Fatalf("got settings %s, want %s", got, settings)
			}
			if got := string(get("nr:library:functions:team/a.js")); got != `{"outputs":2,"fn":"return msg;"}` {
				t.Fatalf("got library %s", got)
			}
			var names []string
			json.Unmarshal(get("nodered:packages"), &names)
			if len(names) != 2 || names[0] != "node-red-contrib-a" || names[1] != "node-red-dashboard" {
				t.Fatalf("got packages %v", names)
			}
			var proj struct {
				Name    string `json:"name"`
				Updated int64  `json:"updated"`
			}
			json.Unmarshal(get("nr:activeProject"), &proj)
			if proj.Name != "shop" || proj.Updated == 0 {
				t.Fatalf("got activeProject %+v", proj)
			}
			// The flows message is Date.now() in ms; packages a JSON array.
			gotFlowsMsg, gotPkgMsg := false, false
			for !gotFlowsMsg || !gotPkgMsg {
				select {
				case m := <-msgs:
					switch {
					case len(m) > 17 && m[:17] == "nr:flows:updated ":
						ms, err := strconv.ParseInt(m[17:], 10, 64)
						if err != nil || ms < before.Add(-time.Minute).UnixMilli() {
							t.Fatalf("got flows message %q, want a ms timestamp", m)
						}
						gotFlowsMsg = true
					case m == `nodered:packages:updated ["node-red-contrib-a","node-red-dashboard"]`:
						gotPkgMsg = true
					default:
						t.Fatalf("unexpected message %q", m)
					}
				case <-ctx.Done():
					t.Fatal("no flows-updated or packages message")
				}
			}
		})
	}
}

func mustAppend(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
