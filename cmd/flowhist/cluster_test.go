package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/client/clienttest"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestCluster runs flowhist on a real Valkey Cluster (three primaries, a
// replica each): twenty namespaces spread over the shards, and the API,
// the worker feed, the projector, verify and replay work on each; a CLUSTER
// FAILOVER of one shard during deploys loses nothing acknowledged.
func TestCluster(t *testing.T) {
	cl := valkeytest.StartCluster(t, 3, 1, "--appendonly", "yes", "--appendfsync", "everysec")
	nodes := strings.Join(cl.Addrs(), ",")
	client, err := newValkeyClient(ValkeyConfig{Addr: nodes, Cluster: true, DialTimeout: time.Second, IOTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	s := &testServer{clienttest.StartOn(t, client, streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: time.Second, Required: true}}, httpapi.Config{AuthDisabled: true})}
	store, proj := s.Store, s.Projector
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("NotACluster", func(t *testing.T) {
		_, err := newValkeyClient(ValkeyConfig{Addr: valkeytest.Shared(t), Cluster: true, DialTimeout: time.Second})
		if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), "not a Valkey Cluster") {
			t.Fatalf("got %v, want invalid: not a Valkey Cluster", err)
		}
	})

	var namespaces []string
	for i := range 20 {
		ns := fmt.Sprintf("%s-%02d", randomNS(t), i)
		namespaces = append(namespaces, ns)
		p := "/v1/namespaces/" + ns
		s.request(t, "PUT", p+"/flows", "alice", "", []byte(doc1))
		s.request(t, "POST", p+"/deploy", "bob", "", []byte(`{"flows":`+doc2+`,"credentials":{"$":"00ff"}}`))
		s.request(t, "PUT", p+"/settings", "", "", []byte(`{"a":1}`))
		s.request(t, "PUT", p+"/library/functions?path=x/y", "", "", []byte(`{"meta":{},"body":"return msg;"}`))
		if got := s.request(t, "GET", p+"/flows", "", "", nil); string(got) != compact(t, doc2) {
			t.Fatalf("%s: got flows %s, want doc2", ns, got)
		}
		var news httpapi.FeedNews
		json.Unmarshal(s.request(t, "GET", p+"/feed?worker=w1&wait=0s", "", "", nil), &news)
		if news.Revision != 4 || !news.Flows {
			t.Fatalf("%s: got feed news %+v, want revision 4 with flows", ns, news)
		}
		var h httpapi.History
		json.Unmarshal(s.request(t, "GET", p+"/history", "", "", nil), &h)
		if len(h.Entries) != 4 || h.Entries[2].Actor.User != "bob" {
			t.Fatalf("%s: got history %+v", ns, h.Entries)
		}
		var nh httpapi.NodeHistory
		json.Unmarshal(s.request(t, "GET", p+"/nodes/i1/history", "", "", nil), &nh)
		if len(nh.Entries) != 2 || nh.Entries[0].Change != "changed" || nh.Entries[1].Change != "added" {
			t.Fatalf("%s: got node history %+v, want i1 changed at 2, added at 1", ns, nh.Entries)
		}
	}
	t.Run("NamespacesSpreadOverShards", func(t *testing.T) {
		shards := 0
		for _, p := range cl.Primaries {
			if keys := raw(t, p.Addr, "KEYS", "fh:{*}:log"); keys != "" {
				shards++
			}
		}
		if shards < 2 {
			t.Fatalf("the 20 namespaces' logs are on %d shard(s), want at least 2", shards)
		}
	})
	t.Run("ProjectorVerifyReplay", func(t *testing.T) {
		if err := proj.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for _, ns := range namespaces {
			for _, cmd := range [][]string{{"verify", "-n", ns, "--valkey-addr", nodes}, {"replay", "-n", ns, "--valkey-addr", nodes}, {"verify", "-n", ns, "--valkey-addr", nodes}} {
				if code, out, errOut := run(t, cmd...); code != 0 {
					t.Fatalf("%s: exit %d\n%s%s", strings.Join(cmd, " "), code, out, errOut)
				}
			}
		}
	})
	t.Run("FailoverOfOneShard", func(t *testing.T) {
		// Deploy to every namespace while one shard's replica takes over.
		var mu sync.Mutex
		acked := map[string]map[domain.Revision]string{}
		for _, ns := range namespaces {
			acked[ns] = map[domain.Revision]string{}
		}
		stop := keepDeploying(len(namespaces), func(w, i int) bool {
			ns := namespaces[w]
			f, _ := domain.ParseFlows(fmt.Appendf(nil, `[{"id":"t1","type":"tab","label":"%d-%d"}]`, w, i))
			res, err := deployUntilAcked(ctx, store, ns, f, fmt.Sprintf("k-%d", i))
			if err != nil {
				t.Errorf("%s: %v", ns, err)
				return false
			}
			mu.Lock()
			acked[ns][res.Revision] = f.SHA256()
			mu.Unlock()
			return true
		})
		ended := false
		defer func() {
			if !ended {
				stop(cancel) // the subtest failed: end the deploys' retries too
			}
		}()
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, m := range acked {
				n += len(m)
			}
			return n
		}
		waitUntil(t, 30*time.Second, "deploys before the failover", func() bool { return count() > 100 })
		replica := cl.Replicas[0]
		if got := raw(t, replica.Addr, "CLUSTER", "FAILOVER"); got != "OK" {
			t.Fatalf("CLUSTER FAILOVER answered %q", got)
		}
		waitUntil(t, 30*time.Second, "the replica to be a primary", func() bool {
			return strings.HasPrefix(raw(t, replica.Addr, "ROLE"), "master")
		})
		after := count()
		waitUntil(t, 30*time.Second, "deploys after the failover", func() bool { return count() > after+100 })
		stop()
		ended = true
		for ns, revs := range acked {
			for rev, sha := range revs {
				v, err := store.FlowsAt(ctx, ns, rev)
				if err != nil || v.Revision != rev || v.Flows.SHA256() != sha {
					t.Fatalf("%s: acknowledged revision %d reads back as %+v (%v), want %s", ns, rev, v, err, sha)
				}
			}
			if _, err := proj.CatchUpNamespace(ctx, ns); err != nil {
				t.Fatal(err)
			}
			if code, out, errOut := run(t, "verify", "-n", ns, "--valkey-addr", nodes); code != 0 {
				t.Fatalf("verify %s: exit %d\n%s%s", ns, code, out, errOut)
			}
		}
		t.Logf("%d deploys acknowledged across the failover, all readable byte-exact", count())
	})
}

func compact(t *testing.T, doc string) string {
	t.Helper()
	f, err := domain.ParseFlows([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return string(f.Bytes())
}
