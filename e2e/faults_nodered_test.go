package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestFaultNodeREDWorkerServesNextDeployAfterValkeyRestart: a real Node-RED worker (the
// storage module in node-red/) keeps serving its flows while Valkey is
// killed, follows the feed again by itself once Valkey is back, and serves
// the next deploy made through the Node-RED admin.
func TestFaultNodeREDWorkerServesNextDeployAfterValkeyRestart(t *testing.T) {
	c := &cluster{
		dir:    t.TempDir(),
		valkey: valkeytest.Start(t, durableValkey...),
		ns:     "nr-fault-" + randomHex(4),
		tokens: map[string]string{"deploy-admin": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24)},
		secret: randomHex(16),
	}
	c.fh = startFlowhist(t, c.dir, fhConfig{valkeyAddr: c.valkey.Addr, tokens: c.tokens})
	c.admin = c.startNode(t, "admin", "")
	worker := c.startNode(t, "worker", "w1")
	c.workers = []*nodeRed{worker}
	c.editorTok = c.admin.token(t)
	c.admin.mustDeploy(t, c.editorTok, versionFlow("v1"))
	c.waitServes(t, 10*time.Second, "v1")

	c.valkey.Kill()
	waitFor(t, 20*time.Second, "flowhist noticing the outage (flowhist_valkey_up 0)", func() (bool, string) {
		_, body := get(c.fh.URL+"/metrics", nil)
		return strings.Contains(body, "\nflowhist_valkey_up 0\n"), "not yet"
	})
	if ok, what := worker.serves("v1"); !ok {
		t.Errorf("the worker with Valkey down: %s, want it still serving v1", what)
	}

	c.valkey.Restart(t)
	back := time.Now()
	c.admin.mustDeploy(t, c.editorTok, versionFlow("v2"))
	took := c.waitServes(t, 15*time.Second, "v2")
	t.Logf("the Node-RED worker served v2 %s after the deploy, %s after Valkey was back", took.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
}
