package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
)

func policy(t *testing.T, js string) domain.RolloutPolicy {
	t.Helper()
	var p domain.RolloutPolicy
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	return p.WithDefaults()
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct{ name, js, want string }{
		{"OK", `{"rings":[{"name":"canary","bake":"10s","gate":{"probes":[{"path":"/health","status":200}]}},{"name":"default"}],"windows":["Sat 02:00-04:00 UTC"]}`, ""},
		{"NoRings", `{"rings":[]}`, "0 rings"},
		{"Twice", `{"rings":[{"name":"a"},{"name":"a"}]}`, "listed twice"},
		{"BadName", `{"rings":[{"name":"<b>"}]}`, "not a ring name"},
		{"LongBake", `{"rings":[{"name":"a","bake":"200h"}]}`, "bake"},
		{"NegativeErrors", `{"rings":[{"name":"a","gate":{"maxErrors":-1}}]}`, "0 or more"},
		{"ProbeURL", `{"rings":[{"name":"a","gate":{"probes":[{"path":"http://evil/","status":200}]}}]}`, "own server"},
		{"ProbeNetworkPath", `{"rings":[{"name":"a","gate":{"probes":[{"path":"//evil/x","status":200}]}}]}`, "own server"},
		{"ProbeStatus", `{"rings":[{"name":"a","gate":{"probes":[{"path":"/h","status":42}]}}]}`, "not an HTTP status"},
		{"ProbeTooOften", `{"rings":[{"name":"a","gate":{"probes":[{"path":"/h","status":200,"every":"1ms"}]}}]}`, "every"},
		{"Window", `{"rings":[{"name":"a"}],"windows":["Caturday 02:00-04:00"]}`, "windows[0]"},
		{"DeadlineShort", `{"rings":[{"name":"a","gate":{"deadline":"1ms"}}]}`, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := policy(t, tc.js).Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want EINVALID with %q", err, tc.want)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	var p domain.RolloutPolicy
	if err := json.Unmarshal([]byte(`{"rings":[{"name":"a","bake":"ten"}]}`), &p); err == nil {
		t.Fatal("got nil, want an error for bake \"ten\"")
	}
	b, _ := json.Marshal(policy(t, `{"rings":[{"name":"a","bake":"1m30s"}]}`))
	if !strings.Contains(string(b), `"bake":"1m30s"`) || !strings.Contains(string(b), `"deadline":"1m0s"`) {
		t.Fatalf("got %s, want bake 1m30s and the default deadline", b)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowContains(t *testing.T) {
	// 2026-12-05 is a Saturday.
	for _, tc := range []struct {
		window, at string
		want       bool
	}{
		{"Sat 02:00-04:00 UTC", "2026-12-05T02:00:00Z", true},
		{"Sat 02:00-04:00 UTC", "2026-12-05T03:59:59Z", true},
		{"Sat 02:00-04:00 UTC", "2026-12-05T04:00:00Z", false},
		{"Sat 02:00-04:00 UTC", "2026-12-06T03:00:00Z", false},
		{"Sat 02:00-04:00", "2026-12-05T01:59:59Z", false},
		{"Mon-Fri 22:00-02:00 UTC", "2026-12-04T23:00:00Z", true},  // Friday night
		{"Mon-Fri 22:00-02:00 UTC", "2026-12-05T01:00:00Z", true},  // after Friday's midnight
		{"Mon-Fri 22:00-02:00 UTC", "2026-12-06T01:00:00Z", false}, // after Saturday's
		{"Sat,Sun 00:00-24:00", "2026-12-06T12:00:00Z", true},
		{"Fri-Mon 10:00-11:00", "2026-12-07T10:30:00Z", true}, // Monday, a wrapping range
		{"Fri-Mon 10:00-11:00", "2026-12-08T10:30:00Z", false},
		{"* 10:00:05-10:00:10", "2026-12-08T10:00:07Z", true},
		{"10:00-11:00 Europe/Berlin", "2026-12-08T09:30:00Z", true},
		{"10:00-11:00 Europe/Berlin", "2026-12-08T10:30:00Z", false},
	} {
		w, err := domain.ParseWindow(tc.window)
		if err != nil {
			t.Fatalf("ParseWindow(%q): %v", tc.window, err)
		}
		if got := w.Contains(at(tc.at)); got != tc.want {
			t.Errorf("%q contains %s: got %v, want %v", tc.window, tc.at, got, tc.want)
		}
	}
}

func TestParseWindowErrors(t *testing.T) {
	for _, s := range []string{"", "Sat", "Sat 2:00-4:00", "Sat 02:00-02:00", "Sat 02:00-25:00", "Sat 02:60-03:00", "Sat 02:00-03:00 Mars/Base", "Sat 02:00-03:00 UTC extra", "Sat 02:00-03:00 Local", "Xyz-Fri 01:00-02:00"} {
		if _, err := domain.ParseWindow(s); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("ParseWindow(%q): got %v, want EINVALID", s, err)
		}
	}
}

func FuzzParseWindow(f *testing.F) {
	f.Add("Sat 02:00-04:00 UTC")
	f.Add("Mon-Fri 22:00-02:00 Europe/Berlin")
	f.Fuzz(func(t *testing.T, s string) {
		if w, err := domain.ParseWindow(s); err == nil {
			w.Contains(time.Now())
		}
	})
}

func TestPolicyInWindow(t *testing.T) {
	p := policy(t, `{"rings":[{"name":"a"}]}`)
	if !p.InWindow(time.Now()) {
		t.Fatal("a policy without windows: got outside, want inside")
	}
	p = policy(t, `{"rings":[{"name":"a"}],"windows":["Sat 02:00-04:00","Sun 02:00-04:00"]}`)
	if !p.InWindow(at("2026-12-06T03:00:00Z")) || p.InWindow(at("2026-12-07T03:00:00Z")) {
		t.Fatal("got the wrong window")
	}
}

func TestGateJudge(t *testing.T) {
	g := policy(t, `{"rings":[{"name":"a","gate":{"maxErrors":1,"probes":[{"path":"/health","status":200}]}}]}`).Rings[0].Gate
	ok := domain.WorkerHealth{Started: true, Probes: []domain.ProbeResult{{Path: "/health", Status: 200, OK: true}}}
	for _, tc := range []struct {
		name string
		edit func(*domain.WorkerHealth)
		want string
	}{
		{"OK", func(*domain.WorkerHealth) {}, ""},
		{"OneErrorAllowed", func(h *domain.WorkerHealth) { h.Errors = 1 }, ""},
		{"Errors", func(h *domain.WorkerHealth) { h.Errors = 3 }, "3 runtime errors (at most 1)"},
		{"NotStarted", func(h *domain.WorkerHealth) { h.Started = false }, "flows did not start"},
		{"Missing", func(h *domain.WorkerHealth) { h.MissingTypes = []string{"foo"} }, "missing node types: [foo]"},
		{"Failed", func(h *domain.WorkerHealth) { h.FailedTypes = []string{"bar"} }, "node types failed to start: [bar]"},
		{"Restart", func(h *domain.WorkerHealth) { h.Restarts = 1 }, "1 restarts (at most 0)"},
		{"Probe", func(h *domain.WorkerHealth) { h.Probes[0].Status = 500 }, "probe /health answered 500 (want 200)"},
		{"ProbeMissing", func(h *domain.WorkerHealth) { h.Probes = nil }, "probe /health not reported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ok
			h.Probes = append([]domain.ProbeResult(nil), ok.Probes...)
			tc.edit(&h)
			if got := g.Judge(h); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWorkerHealthValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    domain.WorkerHealth
		ok   bool
	}{
		{"OK", domain.WorkerHealth{Ring: "canary", Revision: 3, ID: "0190aaaa-0000-7000-8000-000000000000", Started: true}, true},
		{"NoID", domain.WorkerHealth{Revision: 3}, false},
		{"MarkupID", domain.WorkerHealth{Revision: 3, ID: "<img src=x>"}, false},
		{"BadRing", domain.WorkerHealth{Ring: "a b"}, false},
		{"NegativeErrors", domain.WorkerHealth{Errors: -1}, false},
		{"LongMessage", domain.WorkerHealth{Message: strings.Repeat("x", 501)}, false},
		{"ManyTypes", domain.WorkerHealth{MissingTypes: make([]string, 101)}, false},
		{"EmptyType", domain.WorkerHealth{FailedTypes: []string{""}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.h.Validate(); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestMergeHealth(t *testing.T) {
	g := domain.Gate{}
	t0 := at("2026-12-07T10:00:00Z")
	good := domain.WorkerHealth{Revision: 5, ID: "e5", Started: true}
	bad := good
	bad.Errors = 2
	h := domain.MergeHealth(nil, good, g, t0)
	if !h.Healthy || !h.HealthySince.Equal(t0) {
		t.Fatalf("first healthy report: got %+v", h)
	}
	h2 := domain.MergeHealth(&h, good, g, t0.Add(time.Second))
	if !h2.HealthySince.Equal(t0) {
		t.Fatalf("healthy since: got %s, want %s", h2.HealthySince, t0)
	}
	h3 := domain.MergeHealth(&h2, bad, g, t0.Add(2*time.Second))
	h4 := domain.MergeHealth(&h3, good, g, t0.Add(3*time.Second))
	if h4.Failed != "2 runtime errors (at most 0)" || !h4.HealthySince.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("a failure on the same position must stay: got %+v", h4)
	}
	next := good
	next.Revision, next.ID = 6, "e6"
	if h5 := domain.MergeHealth(&h4, next, g, t0.Add(4*time.Second)); h5.Failed != "" {
		t.Fatalf("a new position starts clean: got failed %q", h5.Failed)
	}
}

func TestEvaluateGate(t *testing.T) {
	ring := policy(t, `{"rings":[{"name":"canary","bake":"10s","gate":{"deadline":"30s"}}]}`).Rings[0]
	target := domain.Position{Revision: 7, ID: "e7"}
	t0 := at("2026-12-07T10:00:00Z")
	healthy := func(since, updated time.Duration) *domain.StoredHealth {
		return &domain.StoredHealth{WorkerHealth: domain.WorkerHealth{Revision: 7, ID: "e7", Started: true}, Healthy: true, HealthySince: t0.Add(since), Updated: t0.Add(updated)}
	}
	for _, tc := range []struct {
		name    string
		now     time.Duration
		members []domain.Member
		passed  bool
		reason  string
	}{
		{"NoMembersBakes", 9 * time.Second, nil, false, ""},
		{"NoMembersPasses", 10 * time.Second, nil, true, ""},
		{"Baking", 12 * time.Second, []domain.Member{{"w1", healthy(5*time.Second, 11*time.Second)}}, false, ""},
		{"Passed", 15 * time.Second, []domain.Member{{"w1", healthy(5*time.Second, 14*time.Second)}}, true, ""},
		{"NotYet", 5 * time.Second, []domain.Member{{"w1", nil}}, false, ""},
		{"Deadline", 31 * time.Second, []domain.Member{{"w1", healthy(0, time.Second)}, {"w2", nil}}, false, "worker w2: did not report healthy on revision 7 within 30s"},
		{"OldRevision", 31 * time.Second, []domain.Member{{"w2", &domain.StoredHealth{WorkerHealth: domain.WorkerHealth{Revision: 6, ID: "e6"}, Healthy: true}}}, false, "worker w2: did not report healthy"},
		{"Failed", 2 * time.Second, []domain.Member{{"w1", &domain.StoredHealth{WorkerHealth: domain.WorkerHealth{Revision: 7, ID: "e7"}, Failed: "3 runtime errors (at most 0)"}}}, false, "worker w1: 3 runtime errors (at most 0)"},
		{"Stopped", 50 * time.Second, []domain.Member{{"w1", healthy(0, 10*time.Second)}}, false, "worker w1: stopped reporting"},
		{"SameRevisionOtherEvent", 31 * time.Second, []domain.Member{{"w1", &domain.StoredHealth{WorkerHealth: domain.WorkerHealth{Revision: 7, ID: "lost"}, Healthy: true, Updated: t0.Add(30 * time.Second)}}}, false, "worker w1: did not report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := domain.EvaluateGate(ring, target, t0, t0.Add(tc.now), tc.members)
			if v.Passed != tc.passed || v.Failed != (tc.reason != "") || !strings.HasPrefix(v.Reason, tc.reason) {
				t.Fatalf("got passed %v failed %v %q, want passed %v reason %q", v.Passed, v.Failed, v.Reason, tc.passed, tc.reason)
			}
		})
	}
}

func TestRolloutTargets(t *testing.T) {
	p := policy(t, `{"rings":[{"name":"canary"},{"name":"eu"},{"name":"default"}]}`)
	t0 := time.Now()
	old, neu := domain.Position{Revision: 3, ID: "e3"}, domain.Position{Revision: 9, ID: "e9"}
	r := &domain.Rollout{Policy: &p, Stable: old}
	if got, ok := r.TargetOf("canary"); !ok || got != old {
		t.Fatalf("idle: got %v, want stable", got)
	}
	r.Start(neu, t0)
	for ring, want := range map[string]domain.Position{"canary": neu, "eu": old, "default": old, "unlisted": old} {
		if got, _ := r.TargetOf(ring); got != want {
			t.Errorf("ring %s after start: got %v, want %v", ring, got, want)
		}
	}
	r.Promote(t0)
	r.Promote(t0)
	if got, _ := r.TargetOf("unlisted"); got != neu {
		t.Errorf("the last ring (and unlisted rings) after promotion: got %v, want %v", got, neu)
	}
	if done := r.Promote(t0); !done || r.Active() || r.Stable != neu {
		t.Fatalf("promoting the last ring: got done %v active %v stable %v", done, r.Active(), r.Stable)
	}
	if got, ok := (*domain.Rollout)(nil).TargetOf("x"); ok {
		t.Fatalf("no policy: got target %v, want none", got)
	}
}

func TestAbortIsRollbackOf(t *testing.T) {
	a := domain.Abort{User: "alice", Token: "ops", Reason: "not today"}
	base := domain.Position{Revision: 7, ID: "e7"}
	theirs := func(change func(*domain.Event)) *domain.Event {
		e := &domain.Event{Provenance: domain.Provenance{Actor: domain.Actor{User: "alice"}, Token: "ops", Cause: domain.CauseRollback, Target: 7, Reason: "rollout aborted: not today"}}
		if change != nil {
			change(e)
		}
		return e
	}
	tests := []struct {
		name string
		e    *domain.Event
		want bool
	}{
		{"OK", theirs(nil), true},
		{"AnotherUser", theirs(func(e *domain.Event) { e.Actor.User = "mallory" }), false},
		{"AnotherToken", theirs(func(e *domain.Event) { e.Token = "deployer" }), false},
		{"AnotherReason", theirs(func(e *domain.Event) { e.Reason = "rollout aborted" }), false},
		{"AnotherTarget", theirs(func(e *domain.Event) { e.Target = 6 }), false},
		{"NoRollback", theirs(func(e *domain.Event) { e.Cause = "" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.IsRollbackOf(tt.e, base); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got := (domain.Abort{User: "alice"}).RollbackReason(); got != "rollout aborted" {
		t.Fatalf("without a reason: got %q", got)
	}
}

// TestRolloutEndsForget: an abort under way is forgotten when the rollout
// ends, completes or is replaced.
func TestRolloutEndsForget(t *testing.T) {
	p := policy(t, `{"rings":[{"name":"canary"}]}`)
	now := time.Now()
	for name, end := range map[string]func(*domain.Rollout){
		"End":      func(r *domain.Rollout) { r.End(domain.StateAborted, domain.Position{Revision: 9}, "x", now) },
		"Complete": func(r *domain.Rollout) { r.Complete(now) },
		"Start":    func(r *domain.Rollout) { r.Start(domain.Position{Revision: 10}, now) },
	} {
		r := &domain.Rollout{Policy: &p}
		r.Start(domain.Position{Revision: 8}, now)
		r.Aborting = &domain.Abort{User: "alice"}
		if end(r); r.Aborting != nil {
			t.Errorf("%s: the abort under way is kept", name)
		}
	}
}
