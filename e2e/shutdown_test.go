package e2e_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
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
		news bool
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, news, err := api(t, fh.URL, token, "e2e").Feed(context.Background(), fhclient.FeedQuery{Worker: "w1", Wait: 50 * time.Second})
		done <- result{news: news, err: err}
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
		if r.err != nil || r.news {
			t.Fatalf("the waiting feed request got news %t (%v), want none (204)", r.news, r.err)
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
