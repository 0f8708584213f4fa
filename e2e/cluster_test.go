package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/projector"
	"github.com/redis/rueidis"
)

// TestCluster runs one admin and two workers on flowhist and walks through
// what a cluster lives through: deploys, a worker that was down, flowhist
// itself down, credentials, and two admins racing.
func TestCluster(t *testing.T) {
	c := newCluster(t, 2, false)

	t.Run("DeployReachesWorkers", func(t *testing.T) {
		c.admin.mustDeploy(t, c.editorTok, versionFlow("v1"))
		took := c.waitServes(t, 2*time.Second, "v1")
		t.Logf("both workers served v1 %s after the deploy returned", took)
	})

	t.Run("StoppedWorkerCatchesUp", func(t *testing.T) {
		w := c.workers[1]
		w.stop(syscall.SIGTERM)
		for _, v := range []string{"v2", "v3", "v4"} {
			c.admin.mustDeploy(t, c.editorTok, versionFlow(v))
		}
		c.waitServes(t, 2*time.Second, "v4", c.workers[0])
		w.restart(t)
		c.waitServes(t, 10*time.Second, "v4", w)
	})

	t.Run("FlowhistDownDeployRetried", func(t *testing.T) {
		c.fh.stop(syscall.SIGTERM)
		type result struct {
			code int
			body string
		}
		done := make(chan result, 1)
		_, rev := c.admin.flows(t, c.editorTok)
		go func() {
			code, body := c.admin.deploy(c.editorTok, versionFlow("v5"), rev)
			done <- result{code, body}
		}()
		// The deploy is being retried while flowhist is down.
		select {
		case r := <-done:
			t.Fatalf("the deploy finished while flowhist was down: %d %s", r.code, r.body)
		case <-time.After(1500 * time.Millisecond):
		}
		c.fh.restart(t)
		back := time.Now()
		r := <-done
		if r.code != 200 {
			t.Fatalf("the retried deploy failed: %d %s", r.code, r.body)
		}
		c.waitServes(t, time.Until(back.Add(5*time.Second)), "v5")
	})

	t.Run("CredentialsReachWorkers", func(t *testing.T) {
		c.admin.mustDeploy(t, c.editorTok, credentialFlow("v6"))
		c.waitServes(t, 2*time.Second, "v6")
		for _, w := range c.workers {
			code, body := get(w.URL+"/secret", nil)
			// Basic base64("svc:s3cret-from-admin")
			if code != 200 || body != "Basic c3ZjOnMzY3JldC1mcm9tLWFkbWlu" {
				t.Fatalf("%s /secret: got %d %q, want the credential the admin entered", w.name, code, body)
			}
		}
		// The credentials are stored encrypted: flowhist never sees them in
		// clear.
		var creds map[string]any
		c.flowhistJSON(t, "/credentials", &creds)
		if b, _ := json.Marshal(creds); strings.Contains(string(b), "s3cret") || creds["$"] == nil {
			t.Fatalf("got credentials %s, want only Node-RED's encrypted blob", b)
		}
	})

	t.Run("TwoAdminsConflict", func(t *testing.T) {
		admin2 := c.startNode(t, "admin", "")
		tok2 := admin2.token(t)
		_, rev1 := c.admin.flows(t, c.editorTok)
		_, rev2 := admin2.flows(t, tok2)
		if rev1 != rev2 {
			t.Fatalf("the admins start from different revs %s and %s", rev1, rev2)
		}
		if code, body := c.admin.deploy(c.editorTok, versionFlow("v7"), rev1); code != 200 {
			t.Fatalf("first admin: %d %s", code, body)
		}
		code, body := admin2.deploy(tok2, versionFlow("v7-other"), rev2)
		// The loser fails either with flowhist's conflict message or, when
		// it has already applied the winner's deploy from the log, with
		// Node-RED's own 409 version_mismatch (the editor then opens its
		// review/merge dialog against the flows it now runs).
		if code == 200 || !strings.Contains(strings.ToLower(body), "conflict") && !strings.Contains(body, "changed") && !(code == 409 && strings.Contains(body, "version_mismatch")) {
			t.Fatalf("second admin from the same base: got %d %s, want a failed deploy saying there is a conflict", code, body)
		}
		c.waitServes(t, 2*time.Second, "v7")
		// Nothing lost: the winner's deploy is what flowhist has.
		var head []map[string]any
		c.flowhistJSON(t, "/flows", &head)
		if b, _ := json.Marshal(head); !strings.Contains(string(b), `\"v7\"`) || strings.Contains(string(b), "v7-other") {
			t.Fatalf("flowhist has %s, want the first admin's v7", b)
		}
	})
}

// credentialFlow serves version on /version and, on /secret, calls its own
// /echo with basic auth from an http request node's credentials, so the
// answer shows the credential the worker decrypted.
func credentialFlow(version string) []map[string]any {
	f := versionFlow(version)
	return append(f,
		map[string]any{"id": "in2", "type": "http in", "z": "tab1", "url": "/secret", "method": "get", "x": 100, "y": 160, "wires": [][]string{{"fn2"}}},
		map[string]any{"id": "fn2", "type": "function", "z": "tab1", "func": "msg.url = 'http://127.0.0.1:' + msg.req.socket.localPort + '/echo';\nmsg.res0 = msg.res; delete msg.res;\nreturn msg;", "outputs": 1, "x": 300, "y": 160, "wires": [][]string{{"req2"}}},
		map[string]any{"id": "req2", "type": "http request", "z": "tab1", "method": "GET", "ret": "txt", "url": "", "authType": "basic", "x": 500, "y": 160, "wires": [][]string{{"fn3"}},
			"credentials": map[string]any{"user": "svc", "password": "s3cret-from-admin"}},
		map[string]any{"id": "fn3", "type": "function", "z": "tab1", "func": "msg.res = msg.res0;\nreturn msg;", "outputs": 1, "x": 700, "y": 160, "wires": [][]string{{"out2"}}},
		map[string]any{"id": "out2", "type": "http response", "z": "tab1", "x": 900, "y": 160, "wires": [][]string{}},
		map[string]any{"id": "in3", "type": "http in", "z": "tab1", "url": "/echo", "method": "get", "x": 100, "y": 240, "wires": [][]string{{"fn4"}}},
		map[string]any{"id": "fn4", "type": "function", "z": "tab1", "func": "msg.payload = msg.req.headers.authorization || 'none';\nreturn msg;", "outputs": 1, "x": 300, "y": 240, "wires": [][]string{{"out3"}}},
		map[string]any{"id": "out3", "type": "http response", "z": "tab1", "x": 500, "y": 240, "wires": [][]string{}},
	)
}

// TestOldModuleWorker emulates a worker still on node-red-storage-valkey: it
// subscribes to nodered:flows:updated and, on each message, reads
// nodered:flows as the old module does. With compat on, it sees every deploy.
func TestOldModuleWorker(t *testing.T) {
	c := newCluster(t, 0, true)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{c.valkey.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var seen []string
	got := make(chan struct{}, 10)
	go rc.Receive(ctx, rc.B().Subscribe().Channel("nodered:flows:updated").Build(), func(m rueidis.PubSubMessage) {
		v, err := rc.Do(ctx, rc.B().Get().Key("nodered:flows").Build()).AsBytes()
		if err != nil {
			return
		}
		doc, err := projector.DecodeCompat(v)
		if err != nil {
			return
		}
		var stored struct {
			Flows []map[string]any `json:"flows"`
			Rev   string           `json:"rev"`
		}
		json.Unmarshal(doc, &stored)
		for _, n := range stored.Flows {
			if n["id"] == "fn1" {
				mu.Lock()
				seen = append(seen, n["func"].(string))
				mu.Unlock()
			}
		}
		got <- struct{}{}
	})
	// Subscribed once a publish reaches us: wait for the channel to exist.
	waitFor(t, 10*time.Second, "subscribed", func() (bool, string) {
		n, _ := rc.Do(ctx, rc.B().PubsubNumsub().Channel("nodered:flows:updated").Build()).AsIntMap()
		return n["nodered:flows:updated"] == 1, "no subscriber yet"
	})
	c.admin.mustDeploy(t, c.editorTok, versionFlow("old-module-v1"))
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("the old module's worker got no flows-updated message")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || !strings.Contains(seen[len(seen)-1], "old-module-v1") {
		t.Fatalf("the old module's worker read %q from nodered:flows, want the v1 deploy", seen)
	}
}
