package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/client/clienttest"
	"github.com/flowhist/flowhist/httpapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testServer is a real flowhist HTTP API over the shared valkey-server.
type testServer struct{ *clienttest.Server }

func mustServer(t *testing.T, cfg httpapi.Config) *testServer {
	t.Helper()
	return &testServer{clienttest.Start(t, cfg)}
}

func randomNS(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "cli-" + hex.EncodeToString(b)
}

// request sends a request to the test server and fails the test unless it
// answers 2xx.
func (s *testServer) request(t *testing.T, method, path, user, token string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Flowhist-User", user)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: got %d %s", method, path, resp.StatusCode, data)
	}
	return data
}

// The seeded namespace's documents: a tab with an inject and a function,
// a subflow with one node and an MQTT broker config node.
const (
	doc1 = `[{"id":"t1","type":"tab","label":"Orders","disabled":false,"info":""},` +
		`{"id":"s1","type":"subflow","name":"My Sub","info":"","in":[],"out":[]},` +
		`{"id":"c1","type":"mqtt-broker","name":"broker","broker":"localhost"},` +
		`{"id":"i1","type":"inject","z":"t1","name":"tick","x":100,"y":40,"wires":[["f1"]]},` +
		`{"id":"f1","type":"function","z":"t1","name":"transform","func":"return msg;","x":300,"y":40,"wires":[[]]},` +
		`{"id":"s1n1","type":"change","z":"s1","name":"","x":200,"y":80,"wires":[[]]}]`
	// doc2: i1 moved on the canvas, f1's code changed, debug d1 added.
	doc2 = `[{"id":"t1","type":"tab","label":"Orders","disabled":false,"info":""},` +
		`{"id":"s1","type":"subflow","name":"My Sub","info":"","in":[],"out":[]},` +
		`{"id":"c1","type":"mqtt-broker","name":"broker","broker":"localhost"},` +
		`{"id":"i1","type":"inject","z":"t1","name":"tick","x":120,"y":60,"wires":[["f1"]]},` +
		`{"id":"f1","type":"function","z":"t1","name":"transform","func":"msg.payload = msg.payload * 2;\nreturn msg;","x":300,"y":40,"wires":[["d1"]]},` +
		`{"id":"s1n1","type":"change","z":"s1","name":"","x":200,"y":80,"wires":[[]]},` +
		`{"id":"d1","type":"debug","z":"t1","name":"log","active":true,"x":500,"y":40,"wires":[]}]`
	// doc3: d1 removed again, the tab renamed, the broker moved.
	doc3 = `[{"id":"t1","type":"tab","label":"Orders v2","disabled":false,"info":""},` +
		`{"id":"s1","type":"subflow","name":"My Sub","info":"","in":[],"out":[]},` +
		`{"id":"c1","type":"mqtt-broker","name":"broker","broker":"mqtt.example.com"},` +
		`{"id":"i1","type":"inject","z":"t1","name":"tick","x":120,"y":60,"wires":[["f1"]]},` +
		`{"id":"f1","type":"function","z":"t1","name":"transform","func":"msg.payload = msg.payload * 2;\nreturn msg;","x":300,"y":40,"wires":[[]]},` +
		`{"id":"s1n1","type":"change","z":"s1","name":"","x":200,"y":80,"wires":[[]]}]`
)

// seed gives a fresh namespace revisions 1 to 3 (flows by alice, bob and
// alice) and 4 (settings by carol), and returns it.
func seed(t *testing.T, s *testServer, token string) string {
	t.Helper()
	ns := randomNS(t)
	for _, d := range []struct{ user, doc string }{{"alice", doc1}, {"bob", doc2}, {"alice", doc3}} {
		s.request(t, http.MethodPut, "/v1/namespaces/"+ns+"/flows", d.user, token, []byte(d.doc))
	}
	s.request(t, http.MethodPut, "/v1/namespaces/"+ns+"/settings", "carol", token, []byte(`{"editorTheme":{"projects":{"enabled":false}}}`))
	return ns
}

// timeRE matches the times the CLI prints, which golden files replace with
// a marker of the same width so that columns stay aligned.
var timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = timeRE.ReplaceAllString(got, "YYYY-MM-DDThh:mm:ssZ")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// oneLineErr fails unless stderr is exactly one line.
func oneLineErr(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.HasPrefix(stderr, "flowhist: ") {
		t.Errorf("got stderr %q, want one line starting with flowhist:", stderr)
	}
}

func TestClientErrors(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}

	// An address nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"ErrRollbackWithoutReason", append([]string{"rollback", "1"}, conn...), exitUsage, "--reason"},
		{"ErrBadRevision", append([]string{"show", "abc"}, conn...), exitUsage, `"abc"`},
		{"ErrZeroRevision", append([]string{"diff", "0", "2"}, conn...), exitUsage, `"0"`},
		{"ErrNoNamespace", []string{"history", "--url", s.URL}, exitUsage, "namespace"},
		{"ErrBadNamespace", []string{"history", "--url", s.URL, "-n", "bad{ns}"}, exitUsage, "bad{ns}"},
		{"ErrBadURL", []string{"history", "--url", "ftp://x", "-n", ns}, exitUsage, "ftp://x"},
		{"ErrBadKind", append([]string{"history", "--kind", "nope"}, conn...), exitUsage, "nope"},
		{"ErrExportNeitherOutput", append([]string{"export", "1"}, conn...), exitUsage, "exactly one of -o"},
		{"ErrExportBothOutputs", append([]string{"export", "1", "-o", "x", "--dir", "y"}, conn...), exitUsage, "exactly one of -o"},
		{"ErrUnknownNamespace", []string{"show", "1", "--url", s.URL, "-n", randomNS(t)}, exitNotFound, "no revision 1"},
		{"ErrUnknownRevision", append([]string{"export", "99", "-o", "-"}, conn...), exitNotFound, "99"},
		{"ErrUnreachable", []string{"workers", "--url", deadURL, "-n", ns}, exitUnavailable, "cannot reach flowhist at " + deadURL},
		{"ErrTooManyArgs", append([]string{"show", "1", "2"}, conn...), exitUsage, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.contains) {
				t.Fatalf("got exit %d, stderr %q, want %d and %q", code, errOut, tc.code, tc.contains)
			}
			if out != "" {
				t.Errorf("got stdout %q on failure, want none", out)
			}
			oneLineErr(t, errOut)
		})
	}
}

func TestClientAuth(t *testing.T) {
	const admin, reader = "admin-secret-0123456789", "read-secret-0123456789ab"
	s := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "admin", Secret: admin, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true, Workers: []string{"*"}},
		{Name: "reader", Secret: reader, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"*"}},
	}})
	ns := seed(t, s, admin)

	t.Run("OK", func(t *testing.T) {
		code, out, errOut := run(t, "history", "--url", s.URL, "-n", ns, "--token", reader)
		if code != 0 || !strings.Contains(out, "alice via admin") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		const wrong = "wrong-secret-do-not-print"
		code, out, errOut := run(t, "history", "--url", s.URL, "-n", ns, "--token", wrong)
		if code != exitAuth || strings.Contains(errOut+out, wrong) {
			t.Fatalf("got exit %d, stderr %q, want %d without the token", code, errOut, exitAuth)
		}
		oneLineErr(t, errOut)
		if code, _, errOut := run(t, "history", "--url", s.URL, "-n", ns); code != exitAuth {
			t.Fatalf("got exit %d (%s) with no token, want %d", code, errOut, exitAuth)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		code, _, errOut := run(t, "rollback", "1", "--reason", "test", "--url", s.URL, "-n", ns, "--token", reader)
		if code != exitAuth || !strings.Contains(errOut, "admin") || strings.Contains(errOut, reader) {
			t.Fatalf("got exit %d, stderr %q, want %d about the admin scope", code, errOut, exitAuth)
		}
		oneLineErr(t, errOut)
	})
}

// TestClientSettings covers where the connection settings come from; it
// sets the environment, so it cannot run in parallel.
func TestClientSettings(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")

	t.Run("Environment", func(t *testing.T) {
		t.Setenv("FLOWHIST_URL", s.URL)
		t.Setenv("FLOWHIST_NAMESPACE", ns)
		t.Setenv("FLOWHIST_TOKEN", "ignored-when-auth-is-disabled")
		if code, out, errOut := run(t, "history"); code != 0 || !strings.Contains(out, "carol") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("ConfigFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowhist.yaml")
		os.WriteFile(path, []byte("cli:\n  url: "+s.URL+"\n  namespace: "+ns+"\n"), 0o600)
		if code, out, errOut := run(t, "history", "--config", path); code != 0 || !strings.Contains(out, "carol") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("FlagsOverEnvironment", func(t *testing.T) {
		t.Setenv("FLOWHIST_URL", "http://127.0.0.1:1")
		t.Setenv("FLOWHIST_NAMESPACE", "elsewhere")
		if code, _, errOut := run(t, "history", "--url", s.URL, "-n", ns); code != 0 {
			t.Fatalf("got exit %d, stderr %q", code, errOut)
		}
	})
}
