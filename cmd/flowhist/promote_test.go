package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// TestPromote walks the README's staging → production example through
// the command line: overlay, protection, drift, a preview, a request, a
// refused own approval, another person's approval, and the cross-namespace
// diff.
func TestPromote(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	staging, prod := randomNS(t), randomNS(t)
	conn := []string{"--url", s.URL}
	s.request(t, http.MethodPut, "/v1/namespaces/"+prod+"/flows", "alice", "", []byte(`[{"id":"t1","type":"tab","label":"Orders","env":[{"name":"API_URL","value":"https://prod.example"}]},{"id":"h1","type":"http in","z":"t1","url":"/orders"},{"id":"f1","type":"function","z":"t1","func":"return 1"}]`))
	s.request(t, http.MethodPut, "/v1/namespaces/"+staging+"/flows", "alice", "", []byte(`[{"id":"t1","type":"tab","label":"Orders","env":[{"name":"API_URL","value":"https://staging.example"},{"name":"RETRIES","value":"3"}]},{"id":"h1","type":"http in","z":"t1","url":"/staging/orders"},{"id":"f1","type":"function","z":"t1","func":"return 2"}]`))

	mustRun := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append(args, conn...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		return out
	}
	mustRun(t, "overlay", "-n", prod, "--set-property", "h1:url")
	mustRun(t, "policy", "-n", prod, "--protected", "--promotes-from", staging)
	if out := mustRun(t, "policy", "-n", prod); !strings.Contains(out, "protected: true") || !strings.Contains(out, "promotes from: "+staging) {
		t.Fatalf("policy: got %q", out)
	}

	t.Run("DriftExit1", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"drift", "--from", staging, "--to", prod}, conn...)...)
		if code != exitFailed || !strings.Contains(out, "~ (function) f1") || !strings.Contains(out, "new env RETRIES") || strings.Contains(out, "~ (http in) h1") {
			t.Fatalf("got exit %d stdout %q stderr %q, want 1 listing f1 and RETRIES", code, out, errOut)
		}
		oneLineErr(t, errOut)
	})
	t.Run("ErrForbiddenDirect", func(t *testing.T) {
		code, _, errOut := run(t, append([]string{"promote", "--from", staging, "--to", prod}, conn...)...)
		if code != exitAuth || !strings.Contains(errOut, "protected") {
			t.Fatalf("got exit %d stderr %q, want 5 protected", code, errOut)
		}
	})
	var id string
	t.Run("Request", func(t *testing.T) {
		out := mustRun(t, "promote", "--from", staging, "--to", prod, "--request", "--reason", "release 2.3", "--user", "alice")
		m := regexp.MustCompile(`requested (\S+):`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("got %q, want the request's id", out)
		}
		id = m[1]
		if out := mustRun(t, "promotions", "list", "-n", prod, "--state", "pending"); !strings.Contains(out, id) || !strings.Contains(out, "alice") {
			t.Fatalf("list: got %q", out)
		}
		if out := mustRun(t, "promotions", "show", "-n", prod, id); !strings.Contains(out, "reason: release 2.3") || !strings.Contains(out, "~ (function) f1") {
			t.Fatalf("show: got %q", out)
		}
	})
	t.Run("ErrOwnApproval", func(t *testing.T) {
		code, _, errOut := run(t, append([]string{"promotions", "approve", "-n", prod, id, "--user", "alice"}, conn...)...)
		if code != exitAuth || !strings.Contains(errOut, "another person") {
			t.Fatalf("got exit %d stderr %q, want 5", code, errOut)
		}
		oneLineErr(t, errOut)
	})
	t.Run("Approve", func(t *testing.T) {
		out := mustRun(t, "promotions", "approve", "-n", prod, id, "--user", "bob", "--reason", "looks good")
		if !strings.HasPrefix(out, "approved "+id) {
			t.Fatalf("got %q", out)
		}
		flows := string(s.request(t, http.MethodGet, "/v1/namespaces/"+prod+"/flows", "", "", nil))
		if !strings.Contains(flows, `"url":"/orders"`) || !strings.Contains(flows, "https://prod.example") || !strings.Contains(flows, "return 2") {
			t.Fatalf("prod flows: %s", flows)
		}
		code, out, _ := run(t, append([]string{"drift", "--from", staging, "--to", prod}, conn...)...)
		if code != 0 || !strings.Contains(out, "no changes") {
			t.Fatalf("drift after approval: exit %d %q, want 0 no changes", code, out)
		}
	})
	t.Run("DiffAcross", func(t *testing.T) {
		out := mustRun(t, "diff", staging+"@1", prod)
		if !strings.Contains(out, "~ (http in) h1") || !strings.Contains(out, `url: "/staging/orders" → "/orders"`) {
			t.Fatalf("got %q, want h1's url differing", out)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{
			{"promote", "--from", staging},
			{"promote", "--from", staging, "--to", prod, "--request", "--dry-run"},
			{"overlay", "-n", prod, "--set-property", "nocolon"},
			{"diff", "bad name!@1", prod},
		} {
			code, _, errOut := run(t, append(args, conn...)...)
			if code != exitUsage {
				t.Errorf("%v: got exit %d stderr %q, want 2", args, code, errOut)
			}
		}
	})
}
