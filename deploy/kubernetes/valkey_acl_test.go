package kubernetes_test

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/migrations"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
	appsv1 "k8s.io/api/apps/v1"
)

// TestValkeyACLServesFlowhist runs valkey.yaml's own start script (with a
// real valkey-server on a loopback port, its paths moved into a temporary
// directory) and checks what it promises: without the password nobody gets
// in, the readiness probe passes with it only, the ACL file holds no
// password, the user "flowhist" may not run dangerous commands, and it can
// do everything flowhist does.
func TestValkeyACLServesFlowhist(t *testing.T) {
	vk := find[appsv1.StatefulSet](t, load(t), "valkey").Spec.Template.Spec.Containers[0]
	if len(vk.Command) != 2 || vk.Command[0] != "sh" || len(vk.Args) != 1 {
		t.Fatalf("valkey's command %q args %q, want sh -c SCRIPT", vk.Command, vk.Args)
	}
	server, cli := valkeytest.Binary(t, "valkey-server"), valkeytest.Binary(t, "valkey-cli")
	tmp := t.TempDir()
	port := freePort(t)
	// A valkey-server first on PATH that listens on the test's port only
	// and persists nothing.
	bin := filepath.Join(tmp, "bin")
	os.MkdirAll(bin, 0o755)
	wrapper := "#!/bin/sh\nexec " + server + ` "$@" --port ` + port + " --bind 127.0.0.1 --save ''\n"
	if err := os.WriteFile(filepath.Join(bin, "valkey-server"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	run, data := filepath.Join(tmp, "run"), filepath.Join(tmp, "data")
	os.MkdirAll(run, 0o700)
	os.MkdirAll(data, 0o700)
	script := strings.NewReplacer("/run/valkey", run, "--dir /data", "--dir "+data).Replace(vk.Args[0])
	const password = "a-test-password-0123456789abcdef"
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "VALKEY_PASSWORD="+password)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + port

	dial := func(user, pass string) (rueidis.Client, error) {
		return rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, Username: user, Password: pass,
			DisableCache: true, DisableRetry: true, ForceSingleClient: true})
	}
	var c rueidis.Client
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		if c, err = dial("flowhist", password); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("valkey.yaml's script did not bring up a Valkey that user flowhist can use: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // a process starting: nothing to wait on
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("NobodyElseGetsIn", func(t *testing.T) {
		for _, who := range [][2]string{{"", ""}, {"default", ""}, {"default", password}, {"flowhist", "wrong"}} {
			if o, err := dial(who[0], who[1]); err == nil {
				err = o.Do(ctx, o.B().Ping().Build()).Error()
				o.Close()
				if err == nil {
					t.Errorf("user %q with password %q got in", who[0], who[1])
				}
			}
		}
	})
	t.Run("ACLFileHoldsNoPassword", func(t *testing.T) {
		acl, err := os.ReadFile(filepath.Join(run, "users.acl"))
		if err != nil || strings.Contains(string(acl), password) || !strings.Contains(string(acl), "user default off") {
			t.Fatalf("got ACL file %q (%v), want the default user off and no password", acl, err)
		}
		if st, _ := os.Stat(filepath.Join(run, "users.acl")); st == nil || st.Mode().Perm()&0o077 != 0 {
			t.Fatalf("got ACL file mode %v, want readable by its owner only", st.Mode())
		}
	})
	t.Run("ReadinessProbe", func(t *testing.T) {
		probe := strings.Join(vk.ReadinessProbe.Exec.Command, " ")
		if len(vk.ReadinessProbe.Exec.Command) != 3 {
			t.Fatalf("probe %q, want sh -c COMMAND", probe)
		}
		line := strings.Replace(vk.ReadinessProbe.Exec.Command[2], "valkey-cli", cli+" -p "+port, 1)
		for _, tc := range []struct {
			auth string
			ok   bool
		}{{password, true}, {"wrong", false}, {"", false}} {
			p := exec.Command("sh", "-c", line)
			p.Env = append(os.Environ(), "REDISCLI_AUTH="+tc.auth)
			if err := p.Run(); (err == nil) != tc.ok {
				t.Errorf("probe with password %q: got %v, want success %v", tc.auth, err, tc.ok)
			}
		}
	})
	t.Run("NoDangerousCommands", func(t *testing.T) {
		for _, cmd := range [][]string{{"CONFIG", "GET", "*"}, {"FLUSHALL"}, {"KEYS", "*"}, {"ACL", "LIST"}, {"GET", "other:key"}} {
			if err := c.Do(ctx, c.B().Arbitrary(cmd...).Build()).Error(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("%v: got %v, want NOPERM", cmd, err)
			}
		}
	})
	t.Run("FlowhistWorks", func(t *testing.T) {
		// Durability AOF: WAITAOF is allowed too.
		store, err := streams.New(c, streams.Config{Durability: streams.Durability{AOF: true, Required: true}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		proj, err := projector.New(store, projector.Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		api, err := httpapi.New(store, proj, httpapi.Config{AuthDisabled: true}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		defer api.Close()
		fh, err := client.New(client.Config{URL: srv.URL, Namespace: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s as ACL user flowhist: %v", what, err)
			}
		}
		_, err = fh.PutFlows(ctx, []byte(`[{"id":"t1","type":"tab","label":"one"}]`), client.Write{})
		step("deploy", err)
		_, err = fh.PutFlows(ctx, []byte(`[{"id":"t1","type":"tab","label":"two"}]`), client.Write{})
		step("deploy", err)
		_, err = fh.PutSettings(ctx, []byte(`{"nodes":{"node-red-contrib-x":{"name":"node-red-contrib-x","version":"1.0.0","user":true}}}`), client.Write{})
		step("save settings", err)
		news, ok, err := fh.Feed(ctx, client.FeedQuery{Worker: "w1", Wait: 5 * time.Second})
		step("feed", err)
		if !ok || news.Revision == 0 {
			t.Fatalf("got feed %+v %v, want news", news, ok)
		}
		_, err = fh.Ack(ctx, "w1", news.Revision, news.ID)
		step("ack", err)
		_, err = fh.PutWorkerPackages(ctx, "w1", httpapi.WorkerPackages{Revision: news.Revision, OK: true, Packages: []domain.Package{{Name: "node-red-contrib-x", Version: "1.0.0"}}})
		step("worker report", err)
		_, err = fh.Workers(ctx)
		step("workers", err)
		_, err = fh.History(ctx, client.HistoryQuery{})
		step("history", err)
		_, err = fh.Rollback(ctx, 1, "acl test", client.Write{})
		step("rollback", err)
		step("schema check", migrations.Check(ctx, store))
		step("projector catch-up", proj.CatchUp(ctx))
		_, err = api.ReapIdleWorkers(ctx)
		step("reap idle workers", err)
		step("ping", store.Ping(ctx))
		report, err := projector.Verify(ctx, store, "prod")
		step("verify", err)
		if !report.OK {
			t.Fatalf("verify: %+v", report)
		}
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
