package e2e_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRollback is the on-call engineer's night: three deploys through the
// Node-RED admin, the third is bad, one CLI command rolls back to the
// first, both workers serve it within 2 s, and the history shows who rolled
// back and why.
func TestRollback(t *testing.T) {
	c := newCluster(t, 2, false)
	revs := map[string]string{}
	for _, v := range []string{"v1", "v2", "v3"} {
		c.admin.mustDeploy(t, c.editorTok, versionFlow(v))
		revs[v] = c.namespaceRevision(t)
	}
	c.waitServes(t, 2*time.Second, "v3")

	out, errOut, code := c.cli(t, "rollback", revs["v1"], "--reason", "v3 breaks checkout")
	if code != 0 {
		t.Fatalf("flowhist rollback: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	took := c.waitServes(t, 2*time.Second, "v1")
	t.Logf("both workers served v1 %s after the rollback command returned", took)

	out, errOut, code = c.cli(t, "history", "--kind", "rollback")
	if code != 0 || !strings.Contains(out, "v3 breaks checkout") || !strings.Contains(out, "admin-cli") {
		t.Fatalf("flowhist history: exit %d, stdout %q, stderr %q; want the rollback with its actor and reason", code, out, errOut)
	}
}

// namespaceRevision reads flowhist's current namespace revision.
func (c *cluster) namespaceRevision(t *testing.T) string {
	t.Helper()
	d, err := c.api(t).Flows(context.Background())
	if err != nil || d.Revision == 0 {
		t.Fatalf("GET flows: got revision %d (%v), want one", d.Revision, err)
	}
	return d.Revision.String()
}

// cli runs the flowhist binary against the cluster with the admin-cli
// token, as an operator would.
func (c *cluster) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowhistBin, args...)
	cmd.Env = append(cmd.Environ(), "FLOWHIST_URL="+c.fh.URL, "FLOWHIST_TOKEN="+c.tokens["admin-cli"], "FLOWHIST_NAMESPACE="+c.ns, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}
