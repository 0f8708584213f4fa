package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// startPlainNodeRED starts a Node-RED 4.1 on its own file storage in a new
// userDir, with credentialSecret when secret is not "" (else Node-RED
// generates one and keeps it in .config.runtime.json).
func startPlainNodeRED(tb testing.TB, dir, secret string) *nodeRed {
	tb.Helper()
	n := launchRed(tb, dir, "plain", redSettings{secret: secret}, redLaunch{red: nodeRED4})
	n.role = "plain"
	return n
}

// TestImportUserDir imports userDirs a real Node-RED 4.1 wrote (with and
// without credentialSecret in settings.js); a flowhist worker on the
// namespace then serves the flow, its credential decrypted.
func TestImportUserDir(t *testing.T) {
	dir := t.TempDir()
	vk := valkeytest.Start(t)
	tokens := map[string]string{"read-workers": randomHex(24), "admin-cli": randomHex(24)}
	fh := startFlowhist(t, dir, fhConfig{valkeyAddr: vk.Addr, tokens: tokens})
	for _, tc := range []struct{ name, secret string }{
		{"GeneratedSecret", ""},
		{"CredentialSecret", randomHex(16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := "ud-" + tc.name
			nr := startPlainNodeRED(t, dir, tc.secret)
			nr.mustDeploy(t, nr.token(t), credentialFlow(version))
			waitFor(t, 10*time.Second, "the plain Node-RED serves the flow", func() (bool, string) { return nr.serves(version) })
			nr.stop(syscall.SIGTERM)

			secret := tc.secret
			if secret == "" {
				// What the guide says: the generated secret encrypts the
				// credentials; every instance is given it as credentialSecret.
				b, err := os.ReadFile(filepath.Join(nr.userDir, ".config.runtime.json"))
				var rt struct {
					Secret string `json:"_credentialSecret"`
				}
				if json.Unmarshal(b, &rt); err != nil || rt.Secret == "" {
					t.Fatalf("Node-RED wrote no _credentialSecret in .config.runtime.json (%v): %s", err, b)
				}
				secret = rt.Secret
			}
			ns := "ud-" + randomHex(4)
			code, out := runFlowhist(t, nil, "import", "--from-userdir", nr.userDir, "--url", fh.URL, "--token", tokens["admin-cli"], "-n", ns)
			if code != 0 || !strings.Contains(out, "imported") {
				t.Fatalf("import --from-userdir: got exit %d:\n%s", code, out)
			}
			if tc.secret == "" && !strings.Contains(out, "_credentialSecret: not imported") {
				t.Errorf("import said\n%s\nwant a note that the generated _credentialSecret is not imported", out)
			}
			c := &cluster{dir: dir, valkey: vk, fh: fh, ns: ns, tokens: tokens, secret: secret}
			var settings map[string]any
			c.flowhistJSON(t, "/settings", &settings)
			if _, leaked := settings["_credentialSecret"]; leaked || settings["nodes"] == nil {
				t.Fatalf("got settings keys %v, want the node registry and no _credentialSecret", keysOf(settings))
			}
			w := startNodeRED(t, dir, nrConfig{flowhistURL: fh.URL, token: tokens["read-workers"], namespace: ns, role: "worker", workerID: "w-" + tc.name, credentialSecret: secret})
			c.waitServes(t, 10*time.Second, version, w)
			wantSecret(t, w)
			code, out = runFlowhist(t, nil, "verify", "-n", ns, "--valkey-addr", vk.Addr)
			if code != 0 {
				t.Fatalf("verify: got exit %d:\n%s", code, out)
			}
			w.stop(syscall.SIGTERM)
		})
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestImportFromExport copies a namespace with its history from one
// flowhist installation to another: export --history, import
// --from-export; the flows are byte-exact and verify passes.
func TestImportFromExport(t *testing.T) {
	dir := t.TempDir()
	tokens := map[string]string{"admin-cli": randomHex(24)}
	vk1, vk2 := valkeytest.Start(t), valkeytest.Start(t)
	fh1 := startFlowhist(t, dir, fhConfig{valkeyAddr: vk1.Addr, tokens: tokens})
	fh2 := startFlowhist(t, dir, fhConfig{valkeyAddr: vk2.Addr, tokens: tokens})
	ns := "copy-" + randomHex(4)
	src, cp := api(t, fh1.URL, tokens["admin-cli"], ns), api(t, fh2.URL, tokens["admin-cli"], ns)
	ctx, alice := context.Background(), fhclient.Write{User: "alice"}
	for _, v := range []string{"c1", "c2", "c3"} {
		b, _ := json.Marshal(versionFlow(v))
		if _, err := src.PutFlows(ctx, b, alice); err != nil {
			t.Fatalf("PUT flows %s: %v", v, err)
		}
	}
	if _, err := src.PutCredentials(ctx, []byte(`{"$":"00112233445566778899aabbccddeeffQUJD"}`), alice); err != nil {
		t.Fatalf("PUT credentials: %v", err)
	}
	if _, err := src.PutSettings(ctx, []byte(`{"nodes":{"node-red-contrib-x":{"name":"node-red-contrib-x","version":"1.0.0","user":true}}}`), alice); err != nil {
		t.Fatalf("PUT settings: %v", err)
	}
	if _, err := src.PutLibrary(ctx, "functions", "team/a.js", fhclient.LibraryEntry{Meta: json.RawMessage(`{"name":"a"}`), Body: "return msg;"}, alice); err != nil {
		t.Fatalf("PUT library: %v", err)
	}

	bundle := filepath.Join(dir, "copy.jsonl")
	code, out := runFlowhist(t, nil, "export", "--history", bundle, "-n", ns, "--valkey-addr", vk1.Addr)
	if code != 0 {
		t.Fatalf("export --history: got exit %d:\n%s", code, out)
	}
	cli2 := []string{"--url", fh2.URL, "--token", tokens["admin-cli"], "-n", ns}
	code, out = runFlowhist(t, nil, append([]string{"import", "--from-export", bundle}, cli2...)...)
	if code != 0 {
		t.Fatalf("import --from-export: got exit %d:\n%s", code, out)
	}
	// The answers byte for byte, as the client reads them.
	for _, r := range []fhclient.Request{
		{Path: "/flows"}, {Path: "/credentials"}, {Path: "/settings"},
		{Path: "/library/functions", Query: url.Values{"path": {"team/a.js"}}},
	} {
		r.Method = http.MethodGet
		a1, err1 := src.Do(ctx, r)
		a2, err2 := cp.Do(ctx, r)
		if err1 != nil || err2 != nil || !bytes.Equal(a1.Body, a2.Body) {
			t.Errorf("GET %s: got %v %v on the copy, want the source's answer (%v)", r.Path, a2, err2, err1)
			if err1 == nil && err2 == nil {
				t.Errorf("source: %s\ncopy:   %s", a1.Body, a2.Body)
			}
		}
	}
	// Who acted: the importing token, with alice as the source's claim.
	h, err := cp.History(ctx, fhclient.HistoryQuery{Page: fhclient.Page{Limit: 100}})
	if err != nil || len(h.Entries) == 0 {
		t.Fatalf("history of the copy: %v (%d entries)", err, len(h.Entries))
	}
	for _, e := range h.Entries {
		if e.Actor.User != "admin-cli" || e.Token != "admin-cli" || e.Claimed == nil || e.Claimed.User != "alice" || e.Claimed.Token != "admin-cli" {
			t.Errorf("copy's revision %d: got actor %+v token %q claimed %+v, want admin-cli via admin-cli claiming alice via admin-cli", e.Revision, e.Actor, e.Token, e.Claimed)
		}
	}
	code, out = runFlowhist(t, nil, "verify", "-n", ns, "--valkey-addr", vk2.Addr)
	if code != 0 {
		t.Fatalf("verify on the copy: got exit %d:\n%s", code, out)
	}
	code, out = runFlowhist(t, nil, append([]string{"import", "--from-export", bundle}, cli2...)...)
	if code != 0 || !strings.Contains(out, "nothing to import") {
		t.Fatalf("second import: got exit %d:\n%s\nwant nothing to import", code, out)
	}
}
