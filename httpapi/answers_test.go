package httpapi_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// TestAnswersGolden pins the JSON of every answer the API gives, byte for
// byte (key order included): the Node-RED module and operators' scripts
// read them. Each step of one scenario is compared with
// testdata/answers/<step>.json; -update rewrites them. What differs from run
// to run (times, the namespace, idle seconds) is replaced first.
func TestAnswersGolden(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ts.api.SetReady(true)
	ns := randomNS(t)
	v1 := `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"f1","type":"function","z":"t1","name":"double","func":"return msg;","x":100,"y":80}]`
	v2 := `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"f1","type":"function","z":"t1","name":"double","func":"msg.payload *= 2;\nreturn msg;","x":100,"y":80},{"id":"d1","type":"debug","z":"t1","name":"out","x":300,"y":80}]`
	settings := `{"nodes":{"node-red-node-random":{"name":"node-red-node-random","version":"0.4.1","user":true}},"editor":{"apiKey":"s3cret"}}`
	steps := []struct {
		name, method, path, body string
		h                        hdr
		status                   int
	}{
		{"put-flows", "PUT", "/flows", v1, hdr{"Flowhist-User": "alice"}, 200},
		{"deploy", "POST", "/deploy", `{"flows":` + v2 + `,"credentials":{"$":"0a1b2c"},"user":"bob"}`, nil, 200},
		{"deploy-repeated", "POST", "/deploy", `{"flows":` + v2 + `}`, hdr{"Idempotency-Key": "k1"}, 200},
		{"deploy-repeated-again", "POST", "/deploy", `{"flows":` + v2 + `}`, hdr{"Idempotency-Key": "k1"}, 200},
		{"put-settings", "PUT", "/settings", settings, nil, 200},
		{"put-credentials", "PUT", "/credentials", `{"$":"ffee"}`, nil, 200},
		{"put-library", "PUT", "/library/functions?path=math/double", `{"meta":{"outputs":1},"body":"return msg;"}`, nil, 200},
		{"put-sessions", "PUT", "/sessions", `{"tok":{"user":"alice","expires":1}}`, nil, 200},
		{"get-flows", "GET", "/flows", "", nil, 200},
		{"get-credentials", "GET", "/credentials", "", nil, 200},
		{"get-settings", "GET", "/settings", "", nil, 200},
		{"get-sessions", "GET", "/sessions", "", nil, 200},
		{"get-library-entry", "GET", "/library/functions?path=math/double", "", nil, 200},
		{"get-library-listing", "GET", "/library/functions?path=", "", nil, 200},
		{"feed", "GET", "/feed?worker=w1&wait=0s", "", nil, 200},
		{"feed-ack", "POST", "/feed/ack", `{"worker":"w1","revision":3}`, nil, 200},
		{"put-worker-packages", "PUT", "/workers/w1/packages", `{"revision":5,"ok":true,"packages":[{"name":"node-red-node-random","version":"0.4.1"}]}`, hdr{"Authorization": "Bearer " + readSecret}, 200},
		{"workers", "GET", "/workers", "", nil, 200},
		{"feed-ack-conflict", "POST", "/feed/ack", `{"worker":"w1","revision":3,"id":"01900000-0000-7000-8000-000000000000"}`, nil, 409},
		{"feed-reset", "GET", "/feed?worker=w1&wait=0s", "", nil, 200},
		{"workers-diverged", "GET", "/workers", "", nil, 200},
		{"history", "GET", "/history?limit=3", "", nil, 200},
		{"history-kinds", "GET", "/history/kinds", "", hdr{"Authorization": "Bearer " + readSecret}, 200},
		{"revision-settings", "GET", "/revisions/4", "", nil, 200},
		{"revision-flows-event", "GET", "/revisions/2", "", nil, 200},
		{"revision-flows", "GET", "/revisions/1/flows", "", nil, 200},
		{"diff", "GET", "/diff?from=1&to=2", "", nil, 200},
		{"node-history", "GET", "/nodes/f1/history", "", nil, 200},
		{"rollback", "POST", "/rollback", `{"to":1,"reason":"bad deploy"}`, nil, 200},
		{"rollback-noop", "POST", "/rollback", `{"to":1,"reason":"again"}`, nil, 200},
		{"err-conflict", "PUT", "/flows", v1, hdr{"If-Match": `"1"`}, 409},
		{"err-invalid", "PUT", "/settings", `null`, nil, 400},
		{"err-not-found", "GET", "/revisions/99", "", nil, 404},
		{"err-forbidden", "POST", "/rollback", `{"to":1,"reason":"x"}`, hdr{"Authorization": "Bearer " + readSecret}, 403},
		{"err-unauthorized", "GET", "/flows", "", hdr{"Authorization": ""}, 401},
	}
	times := regexp.MustCompile(`"(time|updated)":"[^"]*"`)
	idle := regexp.MustCompile(`"idleSeconds":[0-9.e-]+`)
	addr := regexp.MustCompile(`"remoteAddr":"127\.0\.0\.1:[0-9]+"`)
	nsName := regexp.MustCompile(regexp.QuoteMeta(ns))
	// Event ids (UUIDv7) name the event in the feed's answers.
	eventID := regexp.MustCompile(`"id":"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"`)
	for _, st := range steps {
		r := ts.do(t, st.method, path(ns, st.path), []byte(st.body), st.h)
		if r.status != st.status {
			t.Fatalf("%s: got %d %s, want %d", st.name, r.status, r.body, st.status)
		}
		body := times.ReplaceAll(r.body, []byte(`"$1":"<time>"`))
		body = idle.ReplaceAll(body, []byte(`"idleSeconds":0`))
		body = addr.ReplaceAll(body, []byte(`"remoteAddr":"127.0.0.1:1"`))
		body = nsName.ReplaceAll(body, []byte("NS"))
		body = eventID.ReplaceAll(body, []byte(`"id":"<event>"`))
		golden(t, "answers/"+st.name+".json", body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		r := ts.do(t, "GET", p, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: got %d", p, r.status)
		}
		golden(t, "answers"+p+".json", r.body)
	}
}
