package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/viper"
)

func TestRolloutCommands(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}
	file := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(file, []byte(`{"rings":[{"name":"canary","bake":"10m","gate":{"probes":[{"path":"/health","status":200}]}},{"name":"default"}],"windows":["Sat 02:00-04:00 UTC"]}`), 0o600)

	if code, out, errOut := run(t, append([]string{"rollout", "status"}, conn...)...); code != 0 || !strings.Contains(out, "has no rollout policy") {
		t.Fatalf("status without a policy: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := run(t, append([]string{"rollout", "policy", "--file", file}, conn...)...)
	if code != 0 || !strings.Contains(out, "canary") || !strings.Contains(out, "/health=200/5s") || !strings.Contains(out, "window: Sat 02:00-04:00 UTC") {
		t.Fatalf("policy --file: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"rings":[{"name":"canary","bake":"ten minutes"}]}`), 0o600)
	code, _, errOut = run(t, append([]string{"rollout", "policy", "--file", bad}, conn...)...)
	if code == 0 {
		t.Fatal("a bad policy: got exit 0")
	}
	oneLineErr(t, errOut)
	code, out, _ = run(t, append([]string{"rollout", "status"}, conn...)...)
	if code != 0 || !strings.HasPrefix(out, "state: idle") {
		t.Fatalf("status: got exit %d, stdout %q", code, out)
	}
	code, _, errOut = run(t, append([]string{"rollout", "promote"}, conn...)...)
	if code == 0 || !strings.Contains(errOut, "no rollout is active") {
		t.Fatalf("promote with nothing to promote: got exit %d, stderr %q", code, errOut)
	}
	oneLineErr(t, errOut)
	if code, out, _ := run(t, append([]string{"rollout", "policy", "--delete"}, conn...)...); code != 0 || !strings.Contains(out, "no rollout policy now") {
		t.Fatalf("policy --delete: got exit %d, stdout %q", code, out)
	}
	code, out, errOut = run(t, append([]string{"history"}, conn...)...)
	if code != 0 || strings.Count(out, "rollout.policy") != 2 {
		t.Fatalf("history: want two rollout.policy events, got exit %d, stdout:\n%s\nstderr %q", code, out, errOut)
	}
}

// TestRolloutBadDeployHistory is the README's worked example: a canary
// reports runtime errors on a deploy; the rollout rolls it back, and the
// history says who and why.
func TestRolloutBadDeployHistory(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}
	file := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(file, []byte(`{"rings":[{"name":"canary","bake":"10m","gate":{"maxErrors":0}},{"name":"default"}]}`), 0o600)
	if code, _, errOut := run(t, append([]string{"rollout", "policy", "--file", file}, conn...)...); code != 0 {
		t.Fatalf("policy: exit %d, %s", code, errOut)
	}
	// The canary c1 follows the feed in its ring.
	s.request(t, http.MethodGet, "/v1/namespaces/"+ns+"/feed?worker=c1&ring=canary&wait=0s", "", "", nil)
	s.request(t, http.MethodPut, "/v1/namespaces/"+ns+"/flows", "alice", "", []byte(doc2))
	var pos domain.Position
	waitUntil(t, 10*time.Second, "the canary's target is the deploy", func() bool {
		r := s.request(t, http.MethodGet, "/v1/namespaces/"+ns+"/rollout", "", "", nil)
		var st httpapi.RolloutStatus
		json.Unmarshal(r, &st)
		pos = st.Rings[0].Target
		return st.State == domain.StateBaking
	})
	s.request(t, http.MethodPut, "/v1/namespaces/"+ns+"/workers/c1/health", "", "", []byte(fmt.Sprintf(`{"ring":"canary","revision":%d,"id":%q,"started":true,"errors":3}`, pos.Revision, pos.ID)))
	waitUntil(t, 10*time.Second, "the rollout rolled back", func() bool {
		var st httpapi.RolloutStatus
		json.Unmarshal(s.request(t, http.MethodGet, "/v1/namespaces/"+ns+"/rollout", "", "", nil), &st)
		return st.State == domain.StateRolledBack
	})
	code, out, errOut := run(t, append([]string{"history", "--limit", "5"}, conn...)...)
	if code != 0 {
		t.Fatalf("history: exit %d, %s", code, errOut)
	}
	golden(t, "history-rollout.txt", out)
	// --kind rollout: the rollout's steps, not the deploy or the rollback.
	code, out, errOut = run(t, append([]string{"history", "--kind", "rollout"}, conn...)...)
	if code != 0 {
		t.Fatalf("history --kind rollout: exit %d, %s", code, errOut)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		types = append(types, strings.Fields(line)[2])
	}
	if want := []string{"rollout.failed", "rollout.started", "rollout.policy"}; !slices.Equal(types, want) {
		t.Fatalf("history --kind rollout: got types %v, want %v:\n%s", types, want, out)
	}
}

// TestRolloutOptions: the driver's tick and lease are read from the
// configuration (defaults 250ms and 3s), and a value it cannot work with
// stops serve in one line naming the option.
func TestRolloutOptions(t *testing.T) {
	c, err := readConfigText(t, "auth:\n  disabled: true\n")
	if err != nil || c.API.RolloutTick != 250*time.Millisecond || c.API.RolloutLease != 3*time.Second || c.API.RolloutMemberIdle != 2*time.Minute {
		t.Fatalf("defaults: got tick %s, lease %s, member_idle %s, %v; want 250ms, 3s, 2m", c.API.RolloutTick, c.API.RolloutLease, c.API.RolloutMemberIdle, err)
	}
	c, err = readConfigText(t, "auth:\n  disabled: true\nrollout:\n  tick: 100ms\n  lease: 1s\n")
	if err != nil || c.API.RolloutTick != 100*time.Millisecond || c.API.RolloutLease != time.Second {
		t.Fatalf("set: got tick %s, lease %s, %v; want 100ms, 1s", c.API.RolloutTick, c.API.RolloutLease, err)
	}
	t.Run("FromTheEnvironment", func(t *testing.T) {
		t.Setenv("FLOWHIST_ROLLOUT_TICK", "50ms")
		t.Setenv("FLOWHIST_AUTH_DISABLED", "true")
		v := viper.New()
		v.SetEnvPrefix("FLOWHIST")
		v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
		v.AutomaticEnv()
		setDefaults(v)
		if c, err := readServeConfig(v); err != nil || c.API.RolloutTick != 50*time.Millisecond {
			t.Fatalf("got tick %s, %v; want 50ms", c.API.RolloutTick, err)
		}
		t.Setenv("FLOWHIST_ROLLOUT_LEASE", "0")
		if _, err := readServeConfig(v); domain.ErrorMessage(err) != "rollout.lease: 0s is out of range: 500ms to 10m0s" {
			t.Fatalf("lease 0: got %v", err)
		}
	})
	for _, tc := range []struct{ name, rollout, want string }{
		{"ErrNotADuration", "tick: banana", `rollout.tick: "banana" is not a duration such as 10ms`},
		{"ErrNoUnit", "lease: 3", "rollout.lease: 3 is not a duration: give it a unit, such as 500ms"},
		{"ErrTickTooShort", "tick: 1ms", "rollout.tick: 1ms is out of range: 10ms to 1m0s"},
		{"ErrLeaseTooLong", "lease: 1h", "rollout.lease: 1h0m0s is out of range: 500ms to 10m0s"},
		{"ErrLeaseUnderThreeTicks", "tick: 1s\n  lease: 2s", "rollout.lease: 2s is under three rollout.tick (1s): the driver renews its lease every tick"},
		{"ErrMemberIdleTooShort", "member_idle: 10s", "rollout.member_idle: 10s is out of range: 1m0s to 720h0m0s (the feed notes a worker at most every 30s)"},
		{"ErrMarkup", "tick: \"<b>soon</b>\"", `rollout.tick: "<b>soon</b>" is not a duration such as 10ms`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readConfigText(t, "auth:\n  disabled: true\nrollout:\n  "+tc.rollout+"\n")
			if domain.ErrorCode(err) != domain.EINVALID || domain.ErrorMessage(err) != tc.want {
				t.Fatalf("got %v, want EINVALID %q", err, tc.want)
			}
		})
	}
}
