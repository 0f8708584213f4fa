package e2e_test

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestGracefulShutdown stops flowhist while a worker's feed request waits:
// the request is answered "no news" at once instead of being cut, and the
// process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	token := randomHex(24)
	fh := startFlowhist(t, dir, fhConfig{valkeyAddr: valkeytest.Start(t).Addr, tokens: map[string]string{"read-w": token}})

	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		a := callFlowhist(&http.Client{Timeout: time.Minute}, fh.URL, token, http.MethodGet, "e2e", "/feed?worker=w1&after=0&wait=50s", nil, nil)
		done <- result{code: a.status, err: a.err}
	}()
	waitFor(t, 10*time.Second, "the feed request waiting", func() (bool, string) {
		_, body := get(fh.URL+"/metrics", nil)
		return strings.Contains(body, "flowhist_feed_waiters 1"), "no waiter in /metrics yet"
	})

	start := time.Now()
	fh.proc.mu.Lock()
	cmd := fh.proc.cmd
	fh.proc.mu.Unlock()
	fh.stop(syscall.SIGTERM)
	select {
	case r := <-done:
		if r.err != nil || r.code != http.StatusNoContent {
			t.Fatalf("the waiting feed request got %d (%v), want 204", r.code, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting feed request was not answered at shutdown")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %s, want well under the 30 s drain timeout", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("flowhist exited %d after SIGTERM, want 0", code)
	}
	log, _ := os.ReadFile(fh.log)
	if !strings.Contains(string(log), `"msg":"stopped"`) {
		t.Fatalf("flowhist's log has no clean stop:\n%s", log)
	}
}
