package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
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
