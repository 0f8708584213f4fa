package e2e_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestWorkerNeedsItsOwnToken is issue 19's finding 5 end to end: a worker
// given a plain read token (no auth.tokens[].workers), as the shipped files
// once gave every worker, reads the flows it starts with but cannot follow
// the feed, acknowledge or report packages, and says what to add; a
// worker with a bound token follows as before; and nobody's read token
// acknowledges for another worker.
func TestWorkerNeedsItsOwnToken(t *testing.T) {
	dir := t.TempDir()
	c := &cluster{
		dir:    dir,
		valkey: valkeytest.Start(t),
		ns:     "e2e-" + randomHex(4),
		tokens: map[string]string{"deploy-admin": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24), "plain-reader": randomHex(24)},
		secret: randomHex(16),
	}
	c.fh = startFlowhist(t, dir, fhConfig{valkeyAddr: c.valkey.Addr, tokens: c.tokens})
	c.admin = c.startNode(t, "admin", "")
	c.editorTok = c.admin.token(t)
	c.admin.mustDeploy(t, c.editorTok, versionFlow("v1"))
	bound := c.startNode(t, "worker", "w-bound")
	plain := startNodeRED(t, dir, nrConfig{flowhistURL: c.fh.URL, token: c.tokens["plain-reader"], namespace: c.ns, role: "worker", workerID: "w-plain", credentialSecret: c.secret})
	c.waitServes(t, 30*time.Second, "v1", bound, plain)

	// The plain worker says why it cannot follow.
	waitFor(t, 30*time.Second, "w-plain's log naming auth.tokens[].workers", func() (bool, string) {
		b, _ := os.ReadFile(plain.proc.log)
		return strings.Contains(string(b), "auth.tokens[].workers"), "not yet"
	})
	c.admin.mustDeploy(t, c.editorTok, versionFlow("v2"))
	c.waitServes(t, 30*time.Second, "v2", bound)
	if ok, got := plain.serves("v2"); ok {
		t.Errorf("w-plain serves v2 (%s): its token may not follow the feed", got)
	}
	for _, w := range c.workersInfo(t).Workers {
		if w.Worker == "w-plain" {
			t.Errorf("got a consumer group for w-plain %+v: its token may not create one", w)
		}
	}

	// The review's forgery: a read token acknowledging for a worker that is
	// not its own, and reporting its packages.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/feed/ack", `{"worker":"w-bound","revision":2}`},
		{"PUT", "/workers/w-bound/packages", `{"revision":2,"ok":true,"packages":[]}`},
		{"GET", "/feed?worker=w-bound&wait=0s", ""},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		a := callFlowhist(client, c.fh.URL, c.tokens["plain-reader"], tc.method, c.ns, tc.path, body, nil)
		if a.status != http.StatusForbidden {
			t.Errorf("%s %s with a plain read token: got %s, want 403", tc.method, tc.path, a)
		}
	}
}
