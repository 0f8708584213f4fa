package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestNodeREDWorkerResetAfterLostWrite: a real Node-RED worker runs a
// deploy that Valkey then loses (a single Valkey with appendfsync
// everysec, killed -9 within the second: here its AOF is put back as it
// was fsynced before the deploy, which is what such a kill leaves, every
// run). flowhist's log no longer holds what the worker runs: the feed tells
// it to reset, and it serves the head's flows again, then the next deploy.
func TestNodeREDWorkerResetAfterLostWrite(t *testing.T) {
	vk := valkeytest.Start(t, "--appendonly", "yes", "--appendfsync", "everysec")
	c, worker := startAtV1(t, vk, vk.Addr, "")

	// What an everysec AOF holds a moment after v1: v1, fsynced.
	vc := streamstest.Client(t, c.valkey.Addr)
	if err := vc.Do(context.Background(), vc.B().Waitaof().Numlocal(1).Numreplicas(0).Timeout(5000).Build()).Error(); err != nil {
		t.Fatalf("WAITAOF: %v", err)
	}
	aof := filepath.Join(c.valkey.Dir, "appendonlydir")
	saved := filepath.Join(t.TempDir(), "appendonlydir")
	if err := os.CopyFS(saved, os.DirFS(aof)); err != nil {
		t.Fatal(err)
	}

	c.admin.mustDeploy(t, c.editorTok, versionFlow("lost"))
	c.waitServes(t, 10*time.Second, "lost")
	c.valkey.Kill()
	if err := os.RemoveAll(aof); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(aof, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	c.valkey.Restart(t)
	back := time.Now()
	c.waitServes(t, 20*time.Second, "v1", worker, c.admin)
	t.Logf("the Node-RED worker and admin served the head's flows again %s after Valkey came back without the lost deploy", time.Since(back).Round(time.Millisecond))
	for _, n := range []*nodeRed{worker, c.admin} {
		if got := strings.Count(logText(t, n), "no longer holds revision"); got != 1 {
			t.Errorf("%s logged the reset %d times, want once:\n%s", n.name, got, lastLines(logText(t, n), 30))
		}
	}

	c.admin.mustDeploy(t, c.editorTok, versionFlow("v3"))
	c.waitServes(t, 10*time.Second, "v3")
}

// TestNodeREDWorkerResetAfterFailover: flowhist on a primary and a replica
// with streams.durability replicas: 1, required. The replica is cut off
// (it lags), a deploy lands on the primary alone: answered 503, and
// delivered at once, so the Node-RED worker and admin run it. Then the
// primary is killed (-9) and the replica promoted without it: both are
// told to reset, serve the head's flows, and then the next deploy.
func TestNodeREDWorkerResetAfterFailover(t *testing.T) {
	f := newFailoverEnv(t)
	durable := "streams:\n  durability:\n    replicas: 1\n    timeout: 1s\n    required: true\n"
	c, worker := startAtV1(t, f.primary, f.front.Addr(), durable)

	f.partition()
	body, err := json.Marshal(versionFlow("lost"))
	if err != nil {
		t.Fatal(err)
	}
	auth := http.Header{"Authorization": {"Bearer " + c.tokens["deploy-admin"]}}
	if a := send(client, http.MethodPut, c.fh.URL+"/v1/namespaces/"+c.ns+"/flows", body, auth); a.status != http.StatusServiceUnavailable {
		t.Fatalf("a deploy the replica cannot confirm: got %s, want 503", a)
	}
	c.waitServes(t, 10*time.Second, "lost", worker, c.admin)

	f.failover()
	back := time.Now()
	c.waitServes(t, 20*time.Second, "v1", worker, c.admin)
	t.Logf("the Node-RED worker and admin served the head's flows again %s after the failover", time.Since(back).Round(time.Millisecond))
	c.admin.mustDeploy(t, c.editorTok, versionFlow("v3"))
	c.waitServes(t, 10*time.Second, "v3")
}

// startAtV1 starts flowhist on the Valkey at addr (vk's, or a proxy in
// front of it) with extra config, a Node-RED admin and worker w1, and
// deploys v1 through the admin: both serve it.
func startAtV1(t *testing.T, vk *valkeytest.Server, addr, extra string) (*cluster, *nodeRed) {
	t.Helper()
	c := &cluster{
		dir:    t.TempDir(),
		valkey: vk,
		ns:     "nr-lost-" + randomHex(4),
		tokens: map[string]string{"deploy-admin": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24)},
		secret: randomHex(16),
	}
	c.fh = startFlowhist(t, c.dir, fhConfig{valkeyAddr: addr, tokens: c.tokens, extra: extra})
	c.admin = c.startNode(t, "admin", "")
	worker := c.startNode(t, "worker", "w1")
	c.workers = []*nodeRed{worker}
	c.editorTok = c.admin.token(t)
	c.admin.mustDeploy(t, c.editorTok, versionFlow("v1"))
	c.waitServes(t, 10*time.Second, "v1", worker, c.admin)
	return c, worker
}
