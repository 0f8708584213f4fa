package main

import (
	"bytes"
	"net/http"
	"regexp"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// TestJSONIsTheServersAnswer: --json prints the server's answer as the
// server wrote it (indented), although the CLI decodes it into httpapi's
// types and encodes it again.
func TestJSONIsTheServersAnswer(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	// Characters that JSON encoders like to escape, in a label and a user.
	s.request(t, http.MethodPut, "/v1/namespaces/"+ns+"/flows", "dan <&>", "", []byte(`[{"id":"t1","type":"tab","label":"<b>&amp;</b>"}]`))
	s.request(t, http.MethodGet, "/v1/namespaces/"+ns+"/feed?worker=w1&after=0&wait=0s", "", "", nil)
	conn := []string{"--url", s.URL, "-n", ns, "--json"}
	base := "/v1/namespaces/" + ns
	for _, tc := range []struct {
		args []string
		path string
	}{
		{[]string{"history"}, "/history"},
		{[]string{"history", "--kind", "flows"}, "/history?kind=flows&limit=50"},
		{[]string{"show", "5"}, "/revisions/5"},
		{[]string{"show", "4"}, "/revisions/4"},
		{[]string{"node", "f1"}, "/nodes/f1/history?limit=50"},
		{[]string{"diff", "1", "3"}, "/diff?from=1&to=3"},
		{[]string{"diff", "3", "1"}, "/diff?from=1&to=3&reverse=1"},
		{[]string{"workers"}, "/workers"},
		{[]string{"rollback", "5", "--reason", "no-op"}, "/rollback"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, out, errOut := run(t, append(tc.args, conn...)...)
			if code != 0 {
				t.Fatalf("got exit %d, stderr %q", code, errOut)
			}
			method, body := http.MethodGet, []byte(nil)
			if tc.args[0] == "rollback" {
				method, body = http.MethodPost, []byte(`{"to":5,"reason":"again"}`)
			}
			var want bytes.Buffer
			if err := printJSON(&want, s.request(t, method, base+tc.path, "", "", body)); err != nil {
				t.Fatal(err)
			}
			// How long a worker has been idle moves between the two
			// requests.
			idle := regexp.MustCompile(`"idleSeconds": [0-9.e-]+`)
			if idle.ReplaceAllString(out, "") != idle.ReplaceAllString(want.String(), "") {
				t.Fatalf("got\n%s\nwant the server's answer\n%s", out, want.String())
			}
		})
	}
}
