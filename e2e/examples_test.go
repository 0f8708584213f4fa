package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestExampleAdminPassword starts real Node-RED 4.1 and 5 on the shipped
// node-red/examples/admin-settings.js, as the images and manifests do:
// with no password configured the admin prints a one-time password once,
// which logs in (and "password" does not), keeps it across a restart
// without printing it again, and refuses to start with the hash an
// earlier version of the example shipped.
func TestExampleAdminPassword(t *testing.T) {
	for _, r := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+strings.ReplaceAll(r.name, ".", ""), func(t *testing.T) {
			exampleAdminPassword(t, r)
		})
	}
}

func exampleAdminPassword(t *testing.T, r redRuntime) {
	dir := t.TempDir()
	adminToken := randomHex(32)
	fh := startFlowhist(t, dir, fhConfig{valkeyAddr: valkeytest.Shared(t), tokens: map[string]string{"admin": adminToken}})
	node, red := nodeRED(t, r)
	// The module where the image puts it: on NODE_PATH, beside Node-RED's
	// own modules (bcryptjs).
	mods := filepath.Join(dir, "modules")
	os.MkdirAll(mods, 0o755)
	if err := os.Symlink(filepath.Join(repoRoot(), "node-red"), filepath.Join(mods, "node-red-storage-flowhist")); err != nil {
		t.Fatal(err)
	}
	userDir := filepath.Join(dir, "data")
	os.MkdirAll(userDir, 0o755)
	port := freePort(t)
	env := []string{
		"PORT=" + fmt.Sprint(port),
		"NODE_PATH=" + mods + string(os.PathListSeparator) + filepath.Join(repoRoot(), "e2e", r.dir, "node_modules"),
		"FLOWHIST_URL=" + fh.URL, "FLOWHIST_TOKEN=" + adminToken, "FLOWHIST_NAMESPACE=" + "ex-" + randomHex(4),
		"NODE_RED_CREDENTIAL_SECRET=" + randomHex(32), "NODE_RED_USER_DIR=" + userDir,
	}
	if r.nodeDir != "" {
		env = append(env, "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	settings := filepath.Join(repoRoot(), "node-red", "examples", "admin-settings.js")
	admin := &nodeRed{URL: fmt.Sprintf("http://127.0.0.1:%d", port), userDir: userDir}
	admin.proc = startProc(t, "admin", dir, env, node, red, "--userDir", userDir, "--settings", settings)
	admin.waitUp(t)

	shown := regexp.MustCompile(`generated one-time password: (\S+)`)
	logText := func(p *proc) string { b, _ := os.ReadFile(p.log); return string(b) }
	m := shown.FindAllStringSubmatch(logText(admin.proc), -1)
	if len(m) != 1 {
		t.Fatalf("got %d one-time passwords in the admin's log, want 1", len(m))
	}
	password := m[0][1]
	login := func(pw string) int {
		form := url.Values{"client_id": {"node-red-admin"}, "grant_type": {"password"}, "scope": {"*"}, "username": {"admin"}, "password": {pw}}
		a := send(client, http.MethodPost, admin.URL+"/auth/token", []byte(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.status == http.StatusOK {
			var out struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(a.body, &out); out.AccessToken == "" {
				t.Fatalf("login answered 200 without a token: %s", a.body)
			}
		}
		return a.status
	}
	if got := login(password); got != http.StatusOK {
		t.Fatalf("login with the one-time password: %d, want 200", got)
	}
	for _, pw := range []string{"password", "admin", ""} {
		if got := login(pw); got == http.StatusOK {
			t.Fatalf("login with %q: 200, want refused", pw)
		}
	}
	kept, err := os.ReadFile(filepath.Join(userDir, ".admin-password-hash"))
	if err != nil || strings.Contains(string(kept), password) {
		t.Fatalf("got kept hash %q (%v), want the hash only", kept, err)
	}

	t.Run("KeptAcrossARestart", func(t *testing.T) {
		admin.proc.stop(syscall.SIGTERM)
		admin.restart(t)
		if n := len(shown.FindAllString(logText(admin.proc), -1)); n != 1 {
			t.Fatalf("got %d one-time passwords in the log after a restart, want the first one only", n)
		}
		if got := login(password); got != http.StatusOK {
			t.Fatalf("login with the one-time password after a restart: %d, want 200", got)
		}
	})
	t.Run("KnownHashRefused", func(t *testing.T) {
		// The hash of "password" that earlier versions of the example shipped.
		refused := startProc(t, "admin-known-hash", dir, append(slices.Clone(env),
			"PORT="+fmt.Sprint(freePort(t)), "NODE_RED_ADMIN_PASSWORD_HASH=$2b$08$edJ7p6pLEtRe92gh3xUj9OrMCt9Zf84xlslUKB0h6dizjQ6WCl.FS"),
			node, red, "--userDir", userDir, "--settings", settings)
		select {
		case <-refused.exited:
		case <-time.After(60 * time.Second):
			t.Fatal("the admin started with the known hash of \"password\"")
		}
		const want = `is the hash of "password", a publicly known password: refused`
		if code := refused.cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(logText(refused), want) {
			t.Fatalf("got exit %d, log %q, want a failure saying %q", code, logText(refused), want)
		}
	})
}
