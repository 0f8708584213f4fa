package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

func TestWorkers(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}

	t.Run("None", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"workers"}, conn...)...)
		if code != 0 || !strings.HasPrefix(out, "no workers follow namespace "+ns+" (at revision 4)") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	// w1 takes everything and acknowledges revision 3; w2 takes
	// everything and acknowledges nothing.
	for _, w := range []string{"w1&ring=canary", "w2"} {
		s.request(t, "GET", "/v1/namespaces/"+ns+"/feed?worker="+w+"&wait=0s", "", "", nil)
	}
	s.request(t, "POST", "/v1/namespaces/"+ns+"/feed/ack", "", "", []byte(`{"worker":"w1","revision":3}`))
	s.request(t, "PUT", "/v1/namespaces/"+ns+"/workers/w2/packages", "", "", []byte(`{"revision":4,"ok":false,"module":"node-red-node-random","version":"9.9.9","error":"install failed (404): Module not found"}`))

	t.Run("Table", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"workers"}, conn...)...)
		lines := strings.Split(out, "\n")
		if code != 0 || len(lines) != 4 {
			t.Fatalf("got exit %d, stdout:\n%s\nstderr %q", code, out, errOut)
		}
		if f := strings.Fields(lines[0]); strings.Join(f, " ") != "WORKER RING ACKED LAG PENDING IDLE PACKAGES" {
			t.Errorf("got header %q", lines[0])
		}
		for i, want := range []struct{ counts, packages string }{
			{"w1 canary 3 1 1", "-"},
			{"w2 - 0 4 4", "FAILED node-red-node-random@9.9.9: install failed (404): Module not found"},
		} {
			f := strings.Fields(lines[i+1])
			if len(f) < 7 || strings.Join(f[:5], " ") != want.counts || !strings.HasSuffix(f[5], "s") || strings.Join(f[6:], " ") != want.packages {
				t.Errorf("got row %q, want %q, an idle time and packages %q", lines[i+1], want.counts, want.packages)
			}
		}
	})
	t.Run("Diverged", func(t *testing.T) {
		// w3 says it runs revision 2 as an event the log does not hold
		// there: it runs what the log lost (and is told to reset).
		s.request(t, "GET", "/v1/namespaces/"+ns+"/feed?worker=w3&after=2&afterId=01900000-0000-7000-8000-000000000000&wait=0s", "", "", nil)
		code, out, errOut := run(t, append([]string{"workers"}, conn...)...)
		if code != 0 || !strings.Contains(out, "DIVERGED@2") {
			t.Fatalf("got exit %d, stdout:\n%s\nstderr %q; want w3 shown DIVERGED@2", code, out, errOut)
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[0] == "w3" && (f[3] == "0" || f[4] != "DIVERGED@2") {
				t.Fatalf("got row %q, want w3 at a lag above 0, DIVERGED@2", l)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"workers", "--json"}, conn...)...)
		var res struct {
			Revision int               `json:"revision"`
			Workers  []json.RawMessage `json:"workers"`
		}
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Revision != 4 || len(res.Workers) != 3 {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
}

// TestPackagesColumnIsOneLineOfText keeps a worker's reported error, which
// any read-scope token may set, from breaking the table or reaching the
// terminal as escape codes.
func TestPackagesColumnIsOneLineOfText(t *testing.T) {
	got := packagesColumn(&httpapi.WorkerPackages{Module: "m", Version: "1", Error: "npm ERR!\n\x1b[31mred\x1b[0m\ttab"})
	if strings.ContainsAny(got, "\n\t\x1b") {
		t.Fatalf("got %q, want one line without control characters", got)
	}
}
