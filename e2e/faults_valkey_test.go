package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/redis/rueidis"
)

// More of what an operator's Valkey does to flowhist: runs out of memory,
// forgets its scripts, drops every connection, loses its data, and serves
// no reads at all as a replica cut off from its primary.

// valkeyDo runs one command on the env's Valkey or fails the test.
func (e *faultEnv) valkeyDo(t *testing.T, c rueidis.Client, cmd rueidis.Completed) {
	t.Helper()
	if err := c.Do(context.Background(), cmd).Error(); err != nil {
		t.Fatalf("valkey %v: %v", cmd.Commands(), err)
	}
}

// waitEveryRouteHealthy waits until every route answers as it does with a
// healthy Valkey, calling them one after another.
func (e *faultEnv) waitEveryRouteHealthy(t *testing.T, ns, worker, after string) {
	t.Helper()
	waitFor(t, 30*time.Second, "every route answering again "+after, func() (bool, string) {
		for _, r := range everyRoute(worker) {
			if a := r.do(e, ns); !r.isHealthy(a) {
				return false, r.name + ": " + a.String()
			}
		}
		return true, ""
	})
}

// TestFaultValkeyForgettingScriptsAndConnectionsNo500: SCRIPT FLUSH (a restart of a
// Valkey without its script cache, a failover) and CLIENT KILL of every
// connection (a proxy restarting) are no outage: deploys keep landing, and
// no request answers 500.
func TestFaultValkeyForgettingScriptsAndConnectionsNo500(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	ns, worker := "forget-"+randomHex(4), "w-forget"
	e.seedNamespace(t, ns, worker)
	c := streamstest.Client(t, e.vk.Addr)
	t.Run("a deploy after SCRIPT FLUSH lands", func(t *testing.T) {
		e.valkeyDo(t, c, c.B().ScriptFlush().Build())
		rev := e.revision(t, ns)
		e.mustCall(t, 200, "PUT", ns, "/flows", []byte(`[{"id":"t1","type":"tab","label":"after SCRIPT FLUSH"}]`), nil)
		if got := e.revision(t, ns); got != rev+1 {
			t.Errorf("after the deploy the namespace is at revision %d, want %d", got, rev+1)
		}
	})
	t.Run("every route after CLIENT KILL answers, never 500", func(t *testing.T) {
		c.Do(context.Background(), c.B().ClientKill().TypeNormal().Build()) // kills this client's connection too: its error says nothing
		for _, r := range everyRoute(worker) {
			if a := r.do(e, ns); a.status != 503 && !r.isHealthy(a) {
				t.Errorf("%s after every Valkey connection was killed: got %s, want %v (or 503 unavailable while reconnecting)", r.name, a, r.healthy)
			} else if a.status == 503 {
				if msg := a.unavailable(); msg != "" {
					t.Errorf("%s after every Valkey connection was killed: %s", r.name, msg)
				}
			}
		}
		e.waitEveryRouteHealthy(t, ns, worker, "after CLIENT KILL")
	})
	e.verify(t, ns)
}

// TestFaultValkeyMasterDownAnswers503: Valkey is a replica cut off from its primary
// and configured not to serve stale data (replica-serve-stale-data no): it
// answers MASTERDOWN to reads too. Every route answers 503 unavailable
// within 2 s; once it is a primary again every route answers as before.
func TestFaultValkeyMasterDownAnswers503(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	ns, worker := "masterdown-"+randomHex(4), "w-masterdown"
	e.seedNamespace(t, ns, worker)
	c := streamstest.Client(t, e.vk.Addr)
	e.valkeyDo(t, c, c.B().ConfigSet().ParameterValue().ParameterValue("replica-serve-stale-data", "no").Build())
	e.valkeyDo(t, c, c.B().Replicaof().Host("127.0.0.1").Port(int64(freePort(t))).Build())
	promoted := false
	promote := func() {
		if !promoted {
			promoted = true
			c.Do(context.Background(), c.B().Replicaof().No().One().Build())
		}
	}
	t.Cleanup(promote)
	e.client = outageClient
	for _, r := range everyRoute(worker) {
		t.Run(r.name+" answers 503 unavailable within 2s", func(t *testing.T) {
			if msg := r.do(e, ns).unavailable(); msg != "" {
				t.Errorf("%s with Valkey answering MASTERDOWN: %s", r.name, msg)
			}
		})
	}
	e.client = faultClient
	promote()
	e.waitEveryRouteHealthy(t, ns, worker, "once Valkey is a primary")
	e.verify(t, ns)
}

// TestFaultValkeyDataLossServesNoLostFlows: Valkey comes back without the data flowhist had
// cached (restarted without persistence, failed over to an empty replica,
// flushed by hand). flowhist must not answer flows Valkey no longer has:
// GET flows answers what Valkey holds (nothing yet) or an error, never the
// flows from before the loss; and a deploy it accepts after the loss is
// what GET flows answers, at its revision.
func TestFaultValkeyDataLossServesNoLostFlows(t *testing.T) {
	e := newFaultEnv(t, "") // no persistence: a restart loses everything
	ns, worker := "lost-"+randomHex(4), "w-lost"
	e.seedNamespace(t, ns, worker)
	for i := range 3 {
		e.mustCall(t, 200, "PUT", ns, "/flows", []byte(fmt.Sprintf(`[{"id":"t1","type":"tab","label":"before the loss %d"}]`, i)), nil)
	}
	e.mustCall(t, 200, "GET", ns, "/flows", nil, nil) // cached at the head
	e.vk.Kill()
	e.vk.Restart(t)
	t.Run("GET flows does not answer the lost flows", func(t *testing.T) {
		a := e.call("GET", ns, "/flows", nil, nil)
		_, isErr := a.jsonError()
		if a.status == 200 && string(a.body) != "[]" || a.status != 200 && !isErr {
			t.Errorf("GET flows after Valkey lost the namespace: got %s (Flowhist-Revision %s), want [] at revision 0 or a JSON error",
				a, a.header.Get("Flowhist-Revision"))
		}
	})
	t.Run("a deploy after the loss is what GET flows answers", func(t *testing.T) {
		body := []byte(`[{"id":"t1","type":"tab","label":"after the loss ` + randomHex(4) + `"}]`)
		rev := deployUntilAccepted(t, e, ns, 10*time.Second, body)
		waitFor(t, 5*time.Second, "GET flows answering the deploy made after Valkey lost its data", func() (bool, string) {
			a := e.call("GET", ns, "/flows", nil, nil)
			return a.status == 200 && string(a.body) == string(body) && a.header.Get("Flowhist-Revision") == strconv.FormatUint(rev, 10),
				fmt.Sprintf("%s, Flowhist-Revision %s; want the deploy's body at revision %d", a, a.header.Get("Flowhist-Revision"), rev)
		})
	})
}

// TestFaultCorruptDataAnswersCorrupt: data edited behind flowhist's
// back (valkey-cli, a bad restore) fails its own checksum. Reading it
// answers 500 {"code":"corrupt"} telling the operator to run flowhist
// verify, never the edited bytes; verify exits 1 naming the revision.
func TestFaultCorruptDataAnswersCorrupt(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	ns := "corrupt-" + randomHex(4)
	for _, label := range []string{"first", "second", "third"} {
		e.mustCall(t, 200, "PUT", ns, "/flows", []byte(`[{"id":"t1","type":"tab","label":"`+label+` version"}]`), nil)
	}
	c := streamstest.Client(t, e.vk.Addr)
	// Every stored copy of revision 2's flows is edited: its event in the
	// log, and any document stored apart from it (found by content: which
	// keys streams uses is its business).
	rev := uint64(streamstest.CorruptEvent(t, context.Background(), c, ns, 2, []byte("second version"), []byte("SECOND version")))
	if n := editStrings(t, c, ns, "second version", "SECOND version"); n == 0 {
		t.Logf("no string key of %s holds the flows document apart from the log", ns)
	}
	// A new process, so that nothing it answers comes from what it cached
	// before the edit. One corrupt namespace must not keep it from starting.
	e.fh.stop(syscall.SIGTERM)
	e.fh.restart(t)
	for _, path := range []string{fmt.Sprintf("/revisions/%d/flows", rev), fmt.Sprintf("/diff?from=1&to=%d", rev)} {
		t.Run("GET "+path+" answers 500 corrupt", func(t *testing.T) {
			a := e.call("GET", ns, path, nil, nil)
			ae, ok := a.jsonError()
			if a.status != 500 || !ok || ae.Code != "corrupt" || !strings.Contains(ae.Message, "verify") {
				t.Errorf(`got %s, want 500 {"code":"corrupt","message":"… flowhist verify"}`, a)
			}
			if strings.Contains(string(a.body), "SECOND") || strings.Contains(string(a.body), "FIRST") {
				t.Errorf("the answer shows the edited bytes: %s", a)
			}
		})
	}
	t.Run("flowhist verify exits 1 naming the revision", func(t *testing.T) {
		code, out, errOut, _ := e.cli(t, ns, "verify", "-n", ns, "--valkey-addr", e.vk.Addr)
		if code != 1 || !strings.Contains(out+errOut, strconv.FormatUint(uint64(rev), 10)) {
			t.Errorf("flowhist verify on a corrupt log: exit %d, stdout %q, stderr %q; want exit 1 naming revision %d", code, tail(out, 400), tail(errOut, 400), rev)
		}
	})
}

// editStrings replaces old with new in every string key of ns's hash slot
// ({ns}) holding old, and returns how many it changed.
func editStrings(t *testing.T, c rueidis.Client, ns, old, new string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for cursor := uint64(0); ; {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match("*{"+ns+"}*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range e.Elements {
			if typ, _ := c.Do(ctx, c.B().Type().Key(k).Build()).ToString(); typ != "string" {
				continue
			}
			v, err := c.Do(ctx, c.B().Get().Key(k).Build()).ToString()
			if err != nil || !strings.Contains(v, old) {
				continue
			}
			if err := c.Do(ctx, c.B().Set().Key(k).Value(strings.Replace(v, old, new, 1)).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if cursor = e.Cursor; cursor == 0 {
			return n
		}
	}
}

// TestFaultValkeyRefusingWritesAnswers503: Valkey refuses writes for a while and
// answers reads: out of memory (maxmemory, noeviction: OOM), unable to
// write its snapshot (a full or vanished disk: MISCONF), too few replicas
// (min-replicas-to-write: NOREPLICAS), busy running a script that does not
// end (BUSY, reads refused too). Each write answers 503 unavailable
// within 2 s, each read 200 or 503, never 500; once Valkey accepts writes
// again every route answers as before.
func TestFaultValkeyRefusingWritesAnswers503(t *testing.T) {
	set := func(kv ...string) func(t *testing.T, e *faultEnv, c rueidis.Client) {
		return func(t *testing.T, e *faultEnv, c rueidis.Client) {
			cmd := c.B().ConfigSet().ParameterValue()
			for i := 0; i < len(kv); i += 2 {
				cmd = cmd.ParameterValue(kv[i], kv[i+1])
			}
			e.valkeyDo(t, c, cmd.Build())
		}
	}
	for _, f := range []struct {
		name       string
		valkeyArgs []string
		refuse     func(t *testing.T, e *faultEnv, c rueidis.Client)
		accept     func(t *testing.T, e *faultEnv, c rueidis.Client)
	}{
		{"out of memory (OOM)", nil, set("maxmemory-policy", "noeviction", "maxmemory", "1"), set("maxmemory", "0")},
		{"too few replicas (NOREPLICAS)", nil, set("min-replicas-to-write", "1"), set("min-replicas-to-write", "0")},
		{"busy running a script (BUSY)", nil,
			func(t *testing.T, e *faultEnv, c rueidis.Client) {
				set("busy-reply-threshold", "100")(t, e, c)
				// A script that never ends, from a connection of its own.
				conn, err := net.DialTimeout("tcp", e.vk.Addr, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				script := "while true do end"
				fmt.Fprintf(conn, "*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n", len(script), script)
				waitFor(t, 10*time.Second, "Valkey answering BUSY", func() (bool, string) {
					err := c.Do(context.Background(), c.B().Ping().Build()).Error()
					return err != nil && strings.HasPrefix(err.Error(), "BUSY"), fmt.Sprint(err)
				})
			},
			func(t *testing.T, e *faultEnv, c rueidis.Client) {
				e.valkeyDo(t, c, c.B().ScriptKill().Build())
			}},
		{"unable to persist (MISCONF)", []string{"--enable-protected-configs", "yes"},
			func(t *testing.T, e *faultEnv, c rueidis.Client) {
				gone := filepath.Join(t.TempDir(), "gone")
				if err := os.Mkdir(gone, 0o755); err != nil {
					t.Fatal(err)
				}
				set("save", "3600 1", "dir", gone)(t, e, c)
				if err := os.Remove(gone); err != nil {
					t.Fatal(err)
				}
				e.valkeyDo(t, c, c.B().Bgsave().Build())
				waitFor(t, 10*time.Second, "the snapshot failing", func() (bool, string) {
					info, err := c.Do(context.Background(), c.B().Info().Section("persistence").Build()).ToString()
					return err == nil && strings.Contains(info, "rdb_last_bgsave_status:err"), info
				})
			},
			func(t *testing.T, e *faultEnv, c rueidis.Client) {
				set("dir", e.vk.Dir)(t, e, c)
				e.valkeyDo(t, c, c.B().Bgsave().Build())
			}},
	} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			e := newFaultEnv(t, "", f.valkeyArgs...)
			ns, worker := "refuse-"+randomHex(4), "w-refuse"
			e.seedNamespace(t, ns, worker)
			c := streamstest.Client(t, e.vk.Addr)
			f.refuse(t, e, c)
			e.client = outageClient
			for _, r := range everyRoute(worker) {
				// What adds data is refused; reads, and commands that free
				// memory (XACK), may still run.
				adds := r.method == "PUT" || r.name == "POST deploy" || r.name == "POST rollback"
				want := "503 unavailable or " + strings.Trim(fmt.Sprint(r.healthy), "[]")
				if adds {
					want = "503 unavailable"
				}
				t.Run(r.name+" answers "+want+" within 2s", func(t *testing.T) {
					a := r.do(e, ns)
					if a.status == 503 || adds {
						if msg := a.unavailable(); msg != "" {
							t.Errorf("%s with Valkey %s: %s", r.name, f.name, msg)
						}
						return
					}
					if !r.isHealthy(a) || a.took > outageBound {
						t.Errorf("%s with Valkey %s: got %s, want %s within %s", r.name, f.name, a, want, outageBound)
					}
				})
			}
			e.client = faultClient
			f.accept(t, e, c)
			e.waitEveryRouteHealthy(t, ns, worker, "once Valkey accepts writes")
			e.verify(t, ns)
		})
	}
}

// respConn is one plain connection to Valkey for commands that must keep
// working while Valkey refuses new clients.
type respConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRESP(t *testing.T, addr string) *respConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &respConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// do sends args and fails the test unless the reply is +OK or an integer.
func (c *respConn) do(args ...string) {
	c.t.Helper()
	fmt.Fprintf(c.conn, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.conn, "$%d\r\n%s\r\n", len(a), a)
	}
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil || !(strings.HasPrefix(line, "+OK") || strings.HasPrefix(line, ":")) {
		c.t.Fatalf("valkey %v: %q %v", args, line, err)
	}
}

// TestFaultValkeyRejectingCredentialsAnswers503: Valkey's password changes under
// flowhist (a rotation done in the wrong order) and its connections are
// dropped, so that every new one is refused (NOAUTH). flowhist cannot reach
// its data: every route answers 503 unavailable within 2 s, not 500, and
// /readyz says why; once the password is what flowhist has again, every
// route answers as before.
func TestFaultValkeyRejectingCredentialsAnswers503(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	ns, worker := "noauth-"+randomHex(4), "w-noauth"
	e.seedNamespace(t, ns, worker)
	admin := dialRESP(t, e.vk.Addr) // authenticated before the password is set: it stays so
	admin.do("CONFIG", "SET", "requirepass", "rotated-"+randomHex(8))
	admin.do("CLIENT", "KILL", "TYPE", "normal") // every connection but this one
	t.Cleanup(func() { admin.do("CONFIG", "SET", "requirepass", "") })
	e.client = outageClient
	for _, r := range everyRoute(worker) {
		t.Run(r.name+" answers 503 unavailable within 2s", func(t *testing.T) {
			if msg := r.do(e, ns).unavailable(); msg != "" {
				t.Errorf("%s with Valkey refusing flowhist's credentials: %s", r.name, msg)
			}
		})
	}
	t.Run("readyz answers 503 saying why", func(t *testing.T) {
		a := e.call("GET", "", "/readyz", nil, nil)
		var body struct {
			Message string `json:"message"`
		}
		json.Unmarshal(a.body, &body)
		if a.status != 503 || body.Message == "" || body.Message == "internal error" {
			t.Errorf("GET /readyz with Valkey refusing flowhist's credentials: got %s, want 503 with a message saying why", a)
		}
	})
	e.client = faultClient
	admin.do("CONFIG", "SET", "requirepass", "")
	e.waitEveryRouteHealthy(t, ns, worker, "once Valkey accepts flowhist's credentials")
}
