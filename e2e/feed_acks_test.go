package e2e_test

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkersAckOnTheFeed: real Node-RED workers follow with POST …/feed
// and acknowledge on that request's body, with no POST …/feed/ack of
// their own, and go on doing so across a kill -9 of flowhist, missing
// nothing.
func TestWorkersAckOnTheFeed(t *testing.T) {
	c := newCluster(t, 2, false)
	nodes := append(c.workers, c.admin)

	c.admin.mustDeploy(t, c.editorTok, versionFlow("v1"))
	c.waitServes(t, 5*time.Second, "v1")
	rev := c.namespaceRevision(t)
	for _, n := range nodes {
		c.waitAcked(t, 5*time.Second, n, rev)
	}
	_, metrics := get(c.fh.URL+"/metrics", nil)
	if n := routeRequests(metrics, "POST /v1/namespaces/{ns}/feed/ack"); n != 0 {
		t.Fatalf("got %d POST …/feed/ack requests, want 0: acknowledgements go on the feed request's body", n)
	}
	if n := metricValue(metrics, "flowhist_feed_acks_total"); n < float64(len(c.workers)) {
		t.Fatalf("got %v acknowledgements written, want at least one per worker (%d)", n, len(c.workers))
	}

	// kill -9: the workers' feed requests break; they ask again, the
	// next deploys reach them, and they acknowledge them.
	c.fh.stop(syscall.SIGKILL)
	c.fh.restart(t)
	for _, v := range []string{"v2", "v3"} {
		c.admin.mustDeploy(t, c.editorTok, versionFlow(v))
	}
	c.waitServes(t, 10*time.Second, "v3")
	rev = c.namespaceRevision(t)
	for _, n := range nodes {
		c.waitAcked(t, 10*time.Second, n, rev)
	}
	for _, w := range c.workersInfo(t).Workers {
		if w.Pending != 0 {
			t.Fatalf("worker %s: got %d entries pending, want none", w.Worker, w.Pending)
		}
	}
	_, metrics = get(c.fh.URL+"/metrics", nil)
	if n := metricValue(metrics, "flowhist_feed_acks_total"); n < float64(len(c.workers)) {
		t.Fatalf("after the restart: got %v acknowledgements written, want at least one per worker (%d)", n, len(c.workers))
	}
}

// routeRequests is how many requests to route a /metrics body counts,
// whatever their status.
func routeRequests(body, route string) int {
	n := 0
	prefix := fmt.Sprintf("flowhist_http_request_duration_seconds_count{route=%q,", route)
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			if i := strings.LastIndex(rest, " "); i >= 0 {
				v, _ := strconv.Atoi(rest[i+1:])
				n += v
			}
		}
	}
	return n
}
