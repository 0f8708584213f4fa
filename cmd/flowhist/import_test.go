package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	bundlefmt "github.com/flowhist/flowhist/bundle"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// oldGzip encodes v as the old module does with enableCompression.
func oldGzip(v string) string {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write([]byte(v))
	w.Close()
	return "gzip:" + base64.StdEncoding.EncodeToString(z.Bytes())
}

// oldCluster writes an old module's keys into a fresh valkey-server and
// returns its address and a client.
func oldCluster(t *testing.T, keys map[string]string) (string, rueidis.Client) {
	t.Helper()
	srv := valkeytest.Start(t)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	for k, v := range keys {
		if err := rc.Do(context.Background(), rc.B().Set().Key(k).Value(v).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	return srv.Addr, rc
}

const (
	oldCreds    = `{"$":"0123456789abcdef0123456789abcdefZW5jcnlwdGVk"}`
	oldSettings = `{"_credentialSecret":"generated-secret-never-leaves","nodes":{"node-red":{"name":"node-red","version":"4.1.8"},"node-red-contrib-foo":{"name":"node-red-contrib-foo","version":"1.2.3","user":true}},"users":{"alice":{"editor":{"view":{}}}}}`
)

// namespaceEvents returns how many events ns has.
func namespaceEvents(t *testing.T, s *testServer, ns string) int {
	t.Helper()
	var h struct {
		Entries []json.RawMessage `json:"entries"`
	}
	json.Unmarshal(s.request(t, "GET", "/v1/namespaces/"+ns+"/history?limit=500", "", "", nil), &h)
	return len(h.Entries)
}

func wantNothingImported(t *testing.T, s *testServer, ns string) {
	t.Helper()
	if n := namespaceEvents(t, s, ns); n != 0 {
		t.Fatalf("got %d events in %s after a failed import, want none", n, ns)
	}
}

func verifyOK(t *testing.T, s *testServer, ns string) {
	t.Helper()
	code, out, errOut := run(t, "verify", "-n", ns, "--valkey-addr", s.Addr)
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify: got exit %d, stdout %q, stderr %q, want 0", code, out, errOut)
	}
}

func TestImportFromValkey(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	libFn := `{"name":"double","outputs":1,"fn":"msg.payload *= 2;\nreturn msg;"}`
	addr, rc := oldCluster(t, map[string]string{
		// doc3 is over 1024 bytes with its wrapper? Compressed either way.
		"nodered:flows":                        oldGzip(`{"flows":` + doc3 + `,"rev":"abc"}`),
		"nodered:credentials":                  oldCreds,
		"nodered:settings":                     oldGzip(oldSettings),
		"nodered:sessions":                     `{"tok":{"user":"alice"}}`,
		"nodered:library:functions:lib/double": libFn,
		"nodered:activeProject":                `{"name":"orders","updated":1700000000000}`,
		"nodered:packages":                     `["node-red-contrib-foo"]`,
	})
	ns := randomNS(t)
	conn := []string{"--url", s.URL, "-n", ns}
	imp := append([]string{"import", "--from-valkey", addr}, conn...)

	t.Run("DryRunAppendsNothing", func(t *testing.T) {
		code, out, errOut := run(t, append(imp, "--dry-run")...)
		if code != 0 {
			t.Fatalf("got exit %d, stderr %q", code, errOut)
		}
		for _, want := range []string{"4 of 4 items", "flows: 6 nodes, 1 tabs, 1 subflows", "with credentials", "node registry: 1 user-installed modules",
			"library functions/lib/double", `active project "orders"`, "sessions not imported", "by name only", "_credentialSecret: not imported"} {
			if !strings.Contains(out, want) {
				t.Errorf("dry run: got\n%s\nwant %q in it", out, want)
			}
		}
		wantNothingImported(t, s, ns)
	})
	t.Run("Imports", func(t *testing.T) {
		code, out, errOut := run(t, imp...)
		if code != 0 || !strings.Contains(out, "imported 4 items") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if !strings.Contains(errOut, "import: 4/4 items") {
			t.Errorf("got stderr %q, want a progress line", errOut)
		}
		base := "/v1/namespaces/" + ns
		if got := string(s.request(t, "GET", base+"/flows", "", "", nil)); got != doc3 {
			t.Errorf("got flows %s, want %s", got, doc3)
		}
		if got := string(s.request(t, "GET", base+"/credentials", "", "", nil)); got != oldCreds {
			t.Errorf("got credentials %s, want %s", got, oldCreds)
		}
		settings := string(s.request(t, "GET", base+"/settings", "", "", nil))
		if strings.Contains(settings, "generated-secret") || !strings.Contains(settings, "node-red-contrib-foo") {
			t.Errorf("got settings %s, want the registry without _credentialSecret", settings)
		}
		var entry struct {
			Body string         `json:"body"`
			Meta map[string]any `json:"meta"`
		}
		json.Unmarshal(s.request(t, "GET", base+"/library/functions?path=lib/double", "", "", nil), &entry)
		if entry.Body != "msg.payload *= 2;\nreturn msg;" || entry.Meta["name"] != "double" {
			t.Errorf("got library entry %+v, want the old entry's body and meta", entry)
		}
		if got := strings.TrimSpace(string(s.request(t, "GET", base+"/project", "", "", nil))); got != `{"name":"orders"}` {
			t.Errorf("got project %s, want orders", got)
		}
		var h struct {
			Entries []struct {
				Type          string `json:"type"`
				Actor         struct{ User, Channel string }
				Claimed       *domain.Claim `json:"claimed"`
				CorrelationID string        `json:"correlationId"`
			} `json:"entries"`
		}
		json.Unmarshal(s.request(t, "GET", base+"/history", "", "", nil), &h)
		// flows, settings, packages (implied by the settings), library, project
		if len(h.Entries) != 5 {
			t.Fatalf("got %d events, want 5: %+v", len(h.Entries), h.Entries)
		}
		for _, e := range h.Entries {
			// Auth is off here: no token, so the user is none; the old
			// module records no actor, so there is no claim.
			if e.Actor.User != "" || e.Actor.Channel != "cli" || e.Claimed != nil || !strings.Contains(e.CorrelationID, "from valkey "+addr) {
				t.Errorf("got %s by %+v claimed %+v, correlation %q, want no user, no claim, through the cli, the source in the correlation id", e.Type, e.Actor, e.Claimed, e.CorrelationID)
			}
		}
		verifyOK(t, s, ns)
	})
	t.Run("SecondRunAppendsNothing", func(t *testing.T) {
		code, out, errOut := run(t, imp...)
		if code != 0 || !strings.Contains(out, "nothing to import") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if n := namespaceEvents(t, s, ns); n != 5 {
			t.Fatalf("got %d events after the second run, want still 5", n)
		}
	})
	t.Run("ErrNotEmptyWithoutIfMatch", func(t *testing.T) {
		rc.Do(context.Background(), rc.B().Set().Key("nodered:flows").Value(doc2).Build())
		code, _, errOut := run(t, imp...)
		if code != exitConflict || !strings.Contains(errOut, "--if-match 5") {
			t.Fatalf("got exit %d, stderr %q, want %d naming --if-match 5", code, errOut, exitConflict)
		}
		oneLineErr(t, errOut)
		code, _, errOut = run(t, append(imp, "--if-match", "4")...)
		if code != exitConflict {
			t.Fatalf("--if-match 4 at revision 5: got exit %d, stderr %q, want %d", code, errOut, exitConflict)
		}
		code, out, errOut := run(t, append(imp, "--if-match", "5")...)
		if code != 0 || !strings.Contains(out, "imported 1 items") {
			t.Fatalf("--if-match 5: got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if got := string(s.request(t, "GET", "/v1/namespaces/"+ns+"/flows", "", "", nil)); got != doc2 {
			t.Errorf("got flows %s, want the bare array's %s", got, doc2)
		}
	})
}

func TestImportFromValkeyOptions(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	srv := valkeytest.Start(t, "--requirepass", "old-pass")
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, Password: "old-pass", SelectDB: 3, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rc.Do(context.Background(), rc.B().Set().Key("prod:flows").Value(doc1).Build())
	ns := randomNS(t)
	t.Run("PasswordDBPrefix", func(t *testing.T) {
		t.Setenv("FLOWHIST_IMPORT_VALKEY_PASSWORD", "old-pass")
		code, out, errOut := run(t, "import", "--from-valkey", srv.Addr, "--from-valkey-db", "3", "--prefix", "prod:", "--url", s.URL, "-n", ns)
		if code != 0 || !strings.Contains(out, "imported 1 items") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		ns := randomNS(t)
		code, _, errOut := run(t, "import", "--from-valkey", srv.Addr, "--from-valkey-password", "wrong", "--url", s.URL, "-n", ns)
		if code != exitAuth || strings.Contains(errOut, "wrong") {
			t.Fatalf("got exit %d, stderr %q, want %d without the password", code, errOut, exitAuth)
		}
		oneLineErr(t, errOut)
		wantNothingImported(t, s, ns)
	})
}

func TestImportFromValkeyBadSources(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		keys map[string]string
		addr string
		code int
		want string
	}{
		{"ErrUnreachable", nil, closed, exitUnavailable, "cannot read the source Valkey at " + closed},
		{"ErrMissingFlows", map[string]string{"other:flows": "[]"}, "", exitNotFound, "nodered:flows in Valkey at"},
		{"ErrUndecodableGzip", map[string]string{"nodered:flows": "gzip:!!notbase64"}, "", exitUsage, "nodered:flows in Valkey at"},
		{"ErrNotJSON", map[string]string{"nodered:flows": "{flows"}, "", exitUsage, "not JSON"},
		{"ErrNotFlows", map[string]string{"nodered:flows": `{"rev":"x"}`}, "", exitUsage, "neither"},
		{"ErrInvalidFlows", map[string]string{"nodered:flows": `[{"id":"a","type":"tab"},{"id":"a","type":"tab"}]`}, "", exitUsage, "invalid flows"},
		{"ErrCredentialsNotObject", map[string]string{"nodered:flows": "[]", "nodered:credentials": `["x"]`}, "", exitUsage, "nodered:credentials in Valkey"},
		{"ErrSettingsNotObject", map[string]string{"nodered:flows": "[]", "nodered:settings": `42`}, "", exitUsage, "nodered:settings in Valkey"},
		{"ErrLibraryBodyNotString", map[string]string{"nodered:flows": "[]", "nodered:library:functions:x": `{"fn":7}`}, "", exitUsage, "nodered:library:functions:x"},
		{"ErrLibraryBadPath", map[string]string{"nodered:flows": "[]", "nodered:library:functions:a/../b": `{"fn":""}`}, "", exitUsage, "nodered:library:functions:a/../b"},
		{"ErrProject", map[string]string{"nodered:flows": "[]", "nodered:activeProject": `"orders"`}, "", exitUsage, "nodered:activeProject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr
			if addr == "" {
				addr, _ = oldCluster(t, tc.keys)
			}
			ns := randomNS(t)
			code, _, errOut := run(t, "import", "--from-valkey", addr, "--url", s.URL, "-n", ns)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("got exit %d, stderr %q, want %d and %q", code, errOut, tc.code, tc.want)
			}
			oneLineErr(t, errOut)
			wantNothingImported(t, s, ns)
		})
	}
}

// writeFiles writes files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestImportFromUserDir(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	// Node-RED writes flows.json indented; flowhist stores it compacted.
	var pretty bytes.Buffer
	json.Indent(&pretty, []byte(doc2), "", "    ")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"settings.js":             "module.exports = {\n    flowFile: 'myflows.json',\n    uiPort: 1880,\n}\n",
		"myflows.json":            pretty.String(),
		"myflows_cred.json":       oldCreds,
		".config.runtime.json":    `{"_credentialSecret":"generated-secret-never-leaves","telemetryEnabled":false}`,
		".config.nodes.json":      `{"node-red":{"name":"node-red","version":"4.1.8"},"node-red-contrib-foo":{"name":"node-red-contrib-foo","version":"1.2.3","user":true}}`,
		".config.users.json":      `{"alice":{"editor":{}}}`,
		"lib/functions/double.js": "// name: double\n// outputs: 1\n// info: two\\nlines\nmsg.payload *= 2;\nreturn msg;",
		"lib/flows/sub/a.json":    `[{"id":"x","type":"tab"}]`,
	})
	ns := randomNS(t)
	conn := []string{"--url", s.URL, "-n", ns}
	code, out, errOut := run(t, append([]string{"import", "--from-userdir", dir}, conn...)...)
	if code != 0 || !strings.Contains(out, "imported 4 items") || !strings.Contains(out, "_credentialSecret: not imported") {
		t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	base := "/v1/namespaces/" + ns
	t.Run("FlowFileFromSettings", func(t *testing.T) {
		if got := string(s.request(t, "GET", base+"/flows", "", "", nil)); got != doc2 {
			t.Errorf("got flows %s, want myflows.json compacted %s", got, doc2)
		}
		if got := string(s.request(t, "GET", base+"/credentials", "", "", nil)); got != oldCreds {
			t.Errorf("got credentials %s, want myflows_cred.json as it is", got)
		}
	})
	t.Run("SettingsWithoutSecret", func(t *testing.T) {
		got := string(s.request(t, "GET", base+"/settings", "", "", nil))
		if strings.Contains(got, "generated-secret") || !strings.Contains(got, `"telemetryEnabled":false`) ||
			!strings.Contains(got, `"nodes":{`) || !strings.Contains(got, `"users":{"alice"`) {
			t.Errorf("got settings %s, want runtime + nodes + users, no _credentialSecret", got)
		}
	})
	t.Run("Library", func(t *testing.T) {
		var e struct {
			Body string            `json:"body"`
			Meta map[string]string `json:"meta"`
		}
		json.Unmarshal(s.request(t, "GET", base+"/library/functions?path=double.js", "", "", nil), &e)
		if e.Body != "msg.payload *= 2;\nreturn msg;" || e.Meta["name"] != "double" || e.Meta["outputs"] != "1" || e.Meta["info"] != "two\nlines" {
			t.Errorf("got %+v, want the body without the meta lines and the meta", e)
		}
		json.Unmarshal(s.request(t, "GET", base+"/library/flows?path=sub/a.json", "", "", nil), &e)
		if e.Body != `[{"id":"x","type":"tab"}]` {
			t.Errorf("got flows entry %q", e.Body)
		}
	})
	t.Run("SecondRunAppendsNothing", func(t *testing.T) {
		before := namespaceEvents(t, s, ns)
		code, out, _ := run(t, append([]string{"import", "--from-userdir", dir}, conn...)...)
		if code != 0 || !strings.Contains(out, "nothing to import") || namespaceEvents(t, s, ns) != before {
			t.Fatalf("got exit %d, stdout %q, %d events (was %d)", code, out, namespaceEvents(t, s, ns), before)
		}
		verifyOK(t, s, ns)
	})
	t.Run("ActiveProject", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"flows.json":                     `[{"id":"ignored","type":"tab"}]`,
			".config.projects.json":          `{"projects":{"orders":{"credentialSecret":"x"}},"activeProject":"orders"}`,
			"projects/orders/package.json":   `{"name":"orders","node-red":{"settings":{"flowFile":"flow.json","credentialsFile":"flow_cred.json"}}}`,
			"projects/orders/flow.json":      doc1,
			"projects/orders/flow_cred.json": oldCreds,
		})
		ns := randomNS(t)
		code, out, errOut := run(t, "import", "--from-userdir", dir, "--url", s.URL, "-n", ns)
		if code != 0 {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if got := string(s.request(t, "GET", "/v1/namespaces/"+ns+"/flows", "", "", nil)); got != doc1 {
			t.Errorf("got flows %s, want the active project's flow.json", got)
		}
		if got := strings.TrimSpace(string(s.request(t, "GET", "/v1/namespaces/"+ns+"/project", "", "", nil))); got != `{"name":"orders"}` {
			t.Errorf("got project %s, want orders", got)
		}
	})
	t.Run("HostFlowFile", func(t *testing.T) {
		host, _ := os.Hostname()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"flows_" + host + ".json": doc1})
		ns := randomNS(t)
		if code, out, errOut := run(t, "import", "--from-userdir", dir, "--url", s.URL, "-n", ns); code != 0 || !strings.Contains(out, "flows_"+host+".json") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

func TestImportFromUserDirBadSources(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	for _, tc := range []struct {
		name  string
		files map[string]string
		extra []string
		code  int
		want  string
	}{
		{"ErrNoDir", nil, nil, exitUsage, "not a directory"},
		{"ErrNoFlowFile", map[string]string{"settings.js": "module.exports = {}"}, nil, exitNotFound, "no flow file"},
		{"ErrFlowFileFromSettingsMissing", map[string]string{"settings.js": "  flowFile: \"gone.json\","}, nil, exitNotFound, "gone.json: no such flow file"},
		{"ErrSeveralFlowFiles", map[string]string{"flows_a.json": "[]", "flows_b.json": "[]"}, nil, exitUsage, "several flow files"},
		{"ErrInvalidFlows", map[string]string{"flows.json": `[{"id":1}]`}, nil, exitUsage, "flows.json: invalid flows"},
		{"ErrFlowsNotJSON", map[string]string{"flows.json": `[{"id":"a",`}, nil, exitUsage, "flows.json: invalid flows"},
		{"ErrCredentials", map[string]string{"flows.json": `[]`, "flows_cred.json": `[1]`}, nil, exitUsage, "flows_cred.json"},
		{"ErrRuntimeConfig", map[string]string{"flows.json": `[]`, ".config.runtime.json": `nope`}, nil, exitUsage, ".config.runtime.json: not a JSON object"},
		{"ErrNodesConfig", map[string]string{"flows.json": `[]`, ".config.nodes.json": `[]`}, nil, exitUsage, ".config.nodes.json: not a JSON object"},
		{"ErrProjectMissing", map[string]string{"flows.json": `[]`, ".config.projects.json": `{"activeProject":"gone"}`}, nil, exitUsage, `the active project "gone" has no directory`},
		{"ErrLibraryPath", map[string]string{"flows.json": `[]`, "lib/functions/bad\x01name.js": "x"}, nil, exitUsage, "lib/functions/bad"},
		{"ErrFlowFileFlag", map[string]string{"flows.json": `[]`}, []string{"--flow-file", "other.json"}, exitNotFound, "other.json: no such flow file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "userdir")
			if tc.files != nil {
				os.MkdirAll(dir, 0o755)
				writeFiles(t, dir, tc.files)
			}
			ns := randomNS(t)
			code, _, errOut := run(t, append([]string{"import", "--from-userdir", dir, "--url", s.URL, "-n", ns}, tc.extra...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("got exit %d, stderr %q, want %d and %q", code, errOut, tc.code, tc.want)
			}
			oneLineErr(t, errOut)
			wantNothingImported(t, s, ns)
		})
	}
}

func TestImportFromExport(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	src := seed(t, s, "")
	base := "/v1/namespaces/" + src
	s.request(t, "PUT", base+"/credentials", "bob", "", []byte(oldCreds))
	s.request(t, "PUT", base+"/library/functions?path=a/b", "bob", "", []byte(`{"meta":{"name":"b"},"body":"return msg;"}`))
	s.request(t, "PUT", base+"/project", "bob", "", []byte(`{"name":"orders"}`))
	s.request(t, "POST", base+"/rollback", "bob", "", []byte(`{"to":2,"reason":"bad"}`))
	srcEvents := namespaceEvents(t, s, src)

	bundle := filepath.Join(t.TempDir(), "src.jsonl")
	code, out, errOut := run(t, "export", "--history", bundle, "--url", s.URL, "-n", src, "--valkey-addr", s.Addr)
	if code != 0 || !strings.Contains(out, "up to revision "+strconv.Itoa(srcEvents)) {
		t.Fatalf("export --history: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	ns := randomNS(t)
	conn := []string{"--url", s.URL, "-n", ns}
	t.Run("HistoryRoundTrip", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"import", "--from-export", bundle}, conn...)...)
		if code != 0 {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		// The new chain records where the source's ended.
		srcHead := bundleHead(t, bundle)
		if !strings.Contains(out, "hash chain ends at revision "+strconv.Itoa(srcEvents)+" with link "+srcHead) {
			t.Errorf("import said %q, want the source's head link %s", out, srcHead)
		}
		if last := string(s.request(t, "GET", "/v1/namespaces/"+ns+"/history?limit=1", "", "", nil)); !strings.Contains(last, "source head "+srcHead) {
			t.Errorf("last imported event %s: want its correlation id to record source head %s", last, srcHead)
		}
		for _, p := range []string{"/flows", "/credentials", "/settings", "/project", "/library/functions?path=a/b"} {
			want := string(s.request(t, "GET", base+p, "", "", nil))
			if got := string(s.request(t, "GET", "/v1/namespaces/"+ns+p, "", "", nil)); got != want {
				t.Errorf("GET %s: got %s, want the source's %s", p, got, want)
			}
		}
		// Every event of the source, in order (packages.changed is implied
		// by the settings save, which has none here).
		if n := namespaceEvents(t, s, ns); n != srcEvents {
			t.Errorf("got %d events, want the source's %d", n, srcEvents)
		}
		// Each keeps its source's actor as the source's claim; the actor
		// is whoever imported (no token here: auth is off).
		var before, after httpapi.History
		json.Unmarshal(s.request(t, "GET", base+"/history?limit=500", "", "", nil), &before)
		json.Unmarshal(s.request(t, "GET", "/v1/namespaces/"+ns+"/history?limit=500", "", "", nil), &after)
		for i, e := range after.Entries {
			if i >= len(before.Entries) {
				break
			}
			want := domain.Claim{User: before.Entries[i].Actor.User, Channel: before.Entries[i].Actor.Channel}
			if e.Claimed == nil || *e.Claimed != want || e.Actor.User != "" {
				t.Errorf("revision %d: got actor %+v claimed %+v, want no user claiming %+v", e.Revision, e.Actor, e.Claimed, want)
			}
		}
		// The CLI shows the claim as one.
		_, out, _ = run(t, append([]string{"show", "1"}, conn...)...)
		if !strings.Contains(out, "claimed:   alice on api (the import source's claim, not checked)") {
			t.Errorf("show 1: got\n%s\nwant alice as the source's claim", out)
		}
		_, out, _ = run(t, append([]string{"history", "--limit", "1", "--cursor", "2"}, conn...)...)
		if !strings.Contains(out, "alice (claimed)") {
			t.Errorf("history: got\n%s\nwant alice (claimed)", out)
		}
		for rev := 1; rev <= 3; rev++ {
			p := "/revisions/" + strconv.Itoa(rev) + "/flows"
			if got, want := s.request(t, "GET", "/v1/namespaces/"+ns+p, "", "", nil), s.request(t, "GET", base+p, "", "", nil); !bytes.Equal(got, want) {
				t.Errorf("revision %d: got %s, want %s", rev, got, want)
			}
		}
		verifyOK(t, s, ns)
	})
	t.Run("SecondRunAppendsNothing", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"import", "--from-export", bundle}, conn...)...)
		if code != 0 || !strings.Contains(out, "nothing to import") || namespaceEvents(t, s, ns) != srcEvents {
			t.Fatalf("got exit %d, stdout %q, %d events", code, out, namespaceEvents(t, s, ns))
		}
	})
	t.Run("FlowsFileAndDir", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "flows.json")
		dir := filepath.Join(t.TempDir(), "dir")
		run(t, "export", "3", "-o", file, "--url", s.URL, "-n", src)
		run(t, "export", "3", "--dir", dir, "--url", s.URL, "-n", src)
		for _, p := range []string{file, dir} {
			ns := randomNS(t)
			code, out, errOut := run(t, "import", "--from-export", p, "--url", s.URL, "-n", ns)
			if code != 0 {
				t.Fatalf("%s: got exit %d, stdout %q, stderr %q", p, code, out, errOut)
			}
			got := s.request(t, "GET", "/v1/namespaces/"+ns+"/flows", "", "", nil)
			if p == file && string(got) != doc3 {
				t.Errorf("from -o: got %s, want %s", got, doc3)
			}
			if p == dir && len(got) != len(doc3) {
				t.Errorf("from --dir: got %s, want doc3's nodes", got)
			}
		}
	})
	t.Run("BadSources", func(t *testing.T) {
		good, _ := os.ReadFile(bundle)
		lines := strings.SplitAfter(string(good), "\n")
		dir := t.TempDir()
		for _, tc := range []struct {
			name, content, want string
		}{
			{"ErrNotExport", "hello", "neither a flows array"},
			{"ErrHeader", `{"foo":1}` + "\n", "line 1: not a flowhist history bundle header"},
			{"ErrFormat", `{"flowhistExport":9,"namespace":"x"}` + "\n", "bundle format 9"},
			{"ErrBrokenLine", lines[0] + lines[1] + "{broken\n", "line 3: not a bundle event"},
			{"ErrUnknownType", lines[0] + `{"revision":1,"type":"mystery"}` + "\n", `line 2: unknown event type "mystery"`},
			{"ErrOutOfOrder", lines[0] + lines[2] + lines[1], "line 3: revision 1 does not follow 2"},
			{"ErrBadFlowsInLastLine", strings.Join(lines[:len(lines)-1], "") + `{"revision":99,"type":"flows.deployed","flows":[{"id":1}]}` + "\n", "line " + strconv.Itoa(len(lines)) + ": invalid flows"},
			{"ErrEmptyBundle", lines[0], "holds no events"},
			{"ErrActorNotText", strings.Join(lines[:len(lines)-1], "") + `{"revision":99,"type":"project.activated","actor":{"user":"eve\u001b[2J"},"project":"p"}` + "\n",
				"line " + strconv.Itoa(len(lines)) + ": the event's actor user"},
			{"ErrMissing", "", "no such file"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := filepath.Join(dir, tc.name)
				if tc.name != "ErrMissing" {
					os.WriteFile(p, []byte(tc.content), 0o644)
				}
				ns := randomNS(t)
				code, _, errOut := run(t, "import", "--from-export", p, "--url", s.URL, "-n", ns)
				if code != exitUsage || !strings.Contains(errOut, tc.want) {
					t.Fatalf("got exit %d, stderr %q, want %d and %q", code, errOut, exitUsage, tc.want)
				}
				oneLineErr(t, errOut)
				wantNothingImported(t, s, ns)
			})
		}
	})
	t.Run("ErrNoSourceOrTwo", func(t *testing.T) {
		for _, args := range [][]string{{"import"}, {"import", "--from-export", bundle, "--from-userdir", "."}} {
			code, _, errOut := run(t, append(args, conn...)...)
			if code != exitUsage || !strings.Contains(errOut, "exactly one of") {
				t.Fatalf("%v: got exit %d, stderr %q", args, code, errOut)
			}
		}
	})
}

// TestImportFromValkeyWorkersSettings: the old module's workers write
// their own settings over the shared key; those are not the admin's and
// are not imported.
func TestImportFromValkeyWorkersSettings(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	addr, _ := oldCluster(t, map[string]string{
		"nodered:flows":    doc1,
		"nodered:settings": `{"instanceId":"098f2b499b32c23e","_credentialSecret":"generated-secret-never-leaves"}`,
	})
	ns := randomNS(t)
	code, out, errOut := run(t, "import", "--from-valkey", addr, "--url", s.URL, "-n", ns)
	if code != 0 || !strings.Contains(out, "imported 1 items") || !strings.Contains(out, "nodered:settings holds no node registry") {
		t.Fatalf("got exit %d, stdout %q, stderr %q, want the flows only and a note on the settings", code, out, errOut)
	}
	if got := string(s.request(t, "GET", "/v1/namespaces/"+ns+"/settings", "", "", nil)); got != "{}" {
		t.Fatalf("got settings %s, want none imported", got)
	}
}

// bundleHead is the source head link a history bundle's header records.
func bundleHead(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := bundlefmt.NewReader(f, path)
	if err != nil || r.Header.Chain == nil || len(r.Header.Chain.Head) != 64 {
		t.Fatalf("bundle header: %+v (%v), want its chain head", r, err)
	}
	return r.Header.Chain.Head
}
