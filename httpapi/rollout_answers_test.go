package httpapi_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// TestRolloutAnswersGolden pins the JSON of the staged rollout's answers
// (docs/rollout.md) as TestAnswersGolden does the others': the Node-RED
// module and the editor read them.
func TestRolloutAnswersGolden(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	v1 := `[{"id":"t1","type":"tab","label":"Flow 1"}]`
	v2 := `[{"id":"t1","type":"tab","label":"Flow 2"}]`
	policy := `{"rings":[{"name":"canary","bake":"1h","gate":{"maxErrors":0,"probes":[{"path":"/health","status":200}]}},{"name":"default"}],"windows":["Sat 02:00-04:00 UTC"]}`
	times := regexp.MustCompile(`"(time|updated|startedAt|updatedAt|promotedAt|bakeUntil|reportedAt|healthySince)":"[^"]*"`)
	idle := regexp.MustCompile(`"idleSeconds":[0-9.e-]+`)
	nsName := regexp.MustCompile(regexp.QuoteMeta(ns))
	eventID := regexp.MustCompile(`"id":"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"`)
	step := func(name, method, p, body string, h hdr, status int) []byte {
		t.Helper()
		r := ts.do(t, method, path(ns, p), []byte(body), h)
		if r.status != status {
			t.Fatalf("%s: got %d %s, want %d", name, r.status, r.body, status)
		}
		b := times.ReplaceAll(r.body, []byte(`"$1":"<time>"`))
		b = idle.ReplaceAll(b, []byte(`"idleSeconds":0`))
		b = nsName.ReplaceAll(b, []byte("NS"))
		b = eventID.ReplaceAll(b, []byte(`"id":"<event>"`))
		if name != "" {
			golden(t, "answers/"+name+".json", b)
		}
		return r.body
	}
	worker := hdr{"Authorization": "Bearer " + readSecret}
	step("", "PUT", "/flows", v1, nil, 200)
	step("rollout-none", "GET", "/rollout", "", nil, 200)
	step("err-rollout-policy-forbidden", "PUT", "/rollout/policy", policy, hdr{"Authorization": "Bearer " + deploySecret}, 403)
	step("err-rollout-policy-invalid", "PUT", "/rollout/policy", `{"rings":[{"name":"<b>"}]}`, nil, 400)
	step("put-rollout-policy", "PUT", "/rollout/policy", policy, nil, 200)
	step("get-rollout-policy", "GET", "/rollout/policy", "", worker, 200)
	step("rollout-idle", "GET", "/rollout", "", nil, 200)
	step("feed-ring", "GET", "/feed?worker=c1&ring=canary&wait=0s", "", worker, 200)
	step("", "PUT", "/flows", v2, nil, 200)
	waitFor(t, "the rollout starts", func() bool {
		var st httpapi.RolloutStatus
		json.Unmarshal(ts.do(t, "GET", path(ns, "/rollout"), nil, nil).body, &st)
		return st.State == domain.StateBaking
	})
	var st httpapi.RolloutStatus
	json.Unmarshal(step("", "GET", "/rollout", "", nil, 200), &st)
	target := st.Rings[0].Target
	healthy := `{"ring":"canary","revision":` + target.Revision.String() + `,"id":"` + target.ID + `","applied":"2026-12-07T10:00:00Z","started":true,"failedTypes":[],"missingTypes":[],"errors":0,"restarts":0,"probes":[{"path":"/health","status":200,"ok":true,"error":""}],"message":""}`
	step("put-worker-health", "PUT", "/workers/c1/health", healthy, worker, 200)
	step("err-worker-health-unknown-field", "PUT", "/workers/c1/health", `{"ring":"canary","secret":1}`, worker, 400)
	step("rollout-baking", "GET", "/rollout", "", nil, 200)
	step("workers-rollout", "GET", "/workers", "", nil, 200)
	step("rollout-paused", "POST", "/rollout/pause", `{"reason":"checking the canary"}`, nil, 200)
	step("rollout-resumed", "POST", "/rollout/resume", "", nil, 200)
	step("rollout-aborted", "POST", "/rollout/abort", `{"reason":"not today"}`, nil, 200)
	step("err-rollout-none-active", "POST", "/rollout/promote", "", nil, 409)
	// Completed: every ring shows promoted and passed.
	step("", "PUT", "/flows", `[{"id":"t1","type":"tab","label":"Flow 3"}]`, nil, 200)
	waitFor(t, "the next rollout starts", func() bool {
		var st httpapi.RolloutStatus
		json.Unmarshal(ts.do(t, "GET", path(ns, "/rollout"), nil, nil).body, &st)
		return st.State == domain.StateBaking
	})
	step("", "POST", "/rollout/promote", "", nil, 200)
	// The default ring has no bake and no gate: the driver may complete the
	// rollout on its next tick before the operator's second promote does
	// (which then answers 409, no rollout active).
	waitFor(t, "the rollout completes", func() bool {
		var st httpapi.RolloutStatus
		json.Unmarshal(ts.do(t, "GET", path(ns, "/rollout"), nil, nil).body, &st)
		if st.State == domain.StateCompleted {
			return true
		}
		if r := ts.do(t, "POST", path(ns, "/rollout/promote"), nil, nil); r.status != 200 && r.status != 409 {
			t.Fatalf("promote to complete: got %d %s, want 200 or 409", r.status, r.body)
		}
		return false
	})
	step("rollout-completed", "GET", "/rollout", "", nil, 200)
}
