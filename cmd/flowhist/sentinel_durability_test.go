package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/spf13/viper"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestDurabilityDefault: under Sentinel, durability nobody configured is a
// required wait for every replica; anything configured is kept as it is.
func TestDurabilityDefault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sentinel bool
		env      map[string]string
		want     streams.Durability
	}{
		{"NoSentinelWaitsForNothing", false, nil, streams.Durability{Timeout: time.Second}},
		{"SentinelWaitsForEveryReplica", true, nil, streams.Durability{EveryReplica: true, Required: true, Timeout: time.Second}},
		{"SentinelWithAOFStillWaitsForEveryReplica", true, map[string]string{"FLOWHIST_STREAMS_DURABILITY_AOF": "true"},
			streams.Durability{EveryReplica: true, Required: true, AOF: true, Timeout: time.Second}},
		{"SentinelReplicasSetIsKept", true, map[string]string{"FLOWHIST_STREAMS_DURABILITY_REPLICAS": "0"}, streams.Durability{Timeout: time.Second}},
		{"SentinelRequiredSetIsKept", true, map[string]string{"FLOWHIST_STREAMS_DURABILITY_REQUIRED": "false"}, streams.Durability{Timeout: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, val := range tc.env {
				t.Setenv(k, val)
			}
			v := viper.New()
			v.SetEnvPrefix("FLOWHIST")
			v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
			v.AutomaticEnv()
			setDefaults(v)
			if tc.sentinel {
				v.Set("valkey.sentinel.master_name", "m")
				v.Set("valkey.sentinel.addrs", []string{"127.0.0.1:26379"})
			}
			c, err := readServeConfig(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Streams.Durability; got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDurabilityWarning: what loses a write in a failover is said; what
// does not, is not.
func TestDurabilityWarning(t *testing.T) {
	for _, tc := range []struct {
		name     string
		d        streams.Durability
		replicas int
		want     string
	}{
		{"EveryReplica", streams.Durability{EveryReplica: true, Required: true}, 2, ""},
		{"NoReplicas", streams.Durability{}, 0, ""},
		{"EnoughAndRequired", streams.Durability{Replicas: 2, Required: true}, 2, ""},
		{"Fewer", streams.Durability{Replicas: 1, Required: true}, 2, "streams.durability.replicas is 1 but the Sentinels report 2 replica(s)"},
		{"NotRequired", streams.Durability{Replicas: 1}, 1, "streams.durability.required is false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.d.Warning(tc.replicas)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSentinelUnsafeDurabilityLosesAcknowledgedDeploys is what the default
// prevents: with streams.durability.replicas 0 under Sentinel, flowhist
// warns at start and on /readyz, and a SENTINEL FAILOVER under 8 deployers
// loses deploys it acknowledged (those the old primary took after the
// replica was promoted and before flowhist followed the switch).
func TestSentinelUnsafeDurabilityLosesAcknowledgedDeploys(t *testing.T) {
	set := startSentinelSet(t)
	store, watch := sentinelStore(t, set, map[string]any{"replicas": 0})

	// The warning, in the log and on /readyz.
	core, logs := observer.New(zap.WarnLevel)
	api, err := httpapi.New(store, nil, httpapi.Config{AuthDisabled: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api.SetReady(true)
	w := newReplicaWatch(serveConfig{Valkey: watch.dial, Streams: streams.Config{Durability: watch.dur}}, store, api, zap.New(core))
	if err := w.check(context.Background()); err != nil {
		t.Fatal(err)
	}
	const want = "streams.durability.replicas is 0 but the Sentinels report 1 replica(s)"
	if got := logs.All(); len(got) != 1 || !strings.Contains(got[0].Message, want) {
		t.Fatalf("got log %+v, want one warning saying %q", got, want)
	}
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var h httpapi.Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil || rec.Code != http.StatusOK || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], want) {
		t.Fatalf("got /readyz %d %s, want 200 ready with the warning %q", rec.Code, rec.Body, want)
	}
	// Checked again with nothing changed: said once.
	if err := w.check(context.Background()); err != nil || logs.Len() != 1 {
		t.Fatalf("got %d warnings (%v), want the first one only", logs.Len(), err)
	}

	// 8 deployers while SENTINEL FAILOVER moves the primary; what the
	// old primary acknowledged after the replica's promotion is lost, and
	// deploys diffed against it may then find the namespace corrupt: that
	// ends a writer, and is damage, not a failure of this test.
	ns := streamstest.Namespace(t)
	var acked acknowledged
	var failures atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := keepDeploying(8, deployer(ctx, store, ns, "unsafe", &acked, func(int, int, error) { failures.Add(1) }))
	defer stop(cancel)
	waitUntil(t, 30*time.Second, "the first deploys", func() bool { return acked.count() > 40 })
	old := set.master(t)
	set.failover(t)(old)
	waitUntil(t, 60*time.Second, "the Sentinels to elect another primary", func() bool { m := set.master(t); return m != "" && m != old })
	moved := acked.count()
	waitUntil(t, 30*time.Second, "deploys on the new primary, or every writer stopped", func() bool {
		return acked.count() > moved+40 || failures.Load() == 8
	})
	stop()
	// The old primary's writes are gone once it replicates the new one.
	waitUntil(t, 60*time.Second, "the old primary to replicate the new one", func() bool {
		return strings.Contains(raw(t, set.master(t), "INFO", "replication"), "state=online")
	})
	lost := acked.lost(ctx, store, ns)
	if len(lost) == 0 {
		t.Fatalf("all %d acknowledged deploys survived the failover: the unsafe setting lost nothing, so this test shows nothing", acked.count())
	}
	t.Logf("replicas 0: %d of %d acknowledged deploys lost (%d writers then found the namespace broken), e.g. %s", len(lost), acked.count(), failures.Load(), lost[0])
}
