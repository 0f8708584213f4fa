package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

// run runs the flowhist command line and returns its exit code, stdout and
// stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := (&Main{Stdout: &out, Stderr: &errb}).Run(ctx, args)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "flowhist ") || !strings.Contains(out, "keyspace schema 2") {
		t.Fatalf("got %d %q", code, out)
	}
}

// sharedStore returns the shared test server's address, a context bounding
// the test, a client of the server and a store on it.
func sharedStore(t *testing.T) (string, context.Context, rueidis.Client, *streams.Store) {
	t.Helper()
	addr := valkeytest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store, _ := streams.New(c, streams.Config{}, nil)
	return addr, ctx, c, store
}

func TestVerifyCommand(t *testing.T) {
	addr, ctx, c, store := sharedStore(t)
	b := make([]byte, 6)
	rand.Read(b)
	ns := "cli-" + hex.EncodeToString(b)
	streamstest.AppendMixed(t, ctx, store, ns, 1000)
	p, _ := projector.New(store, projector.Config{}, nil)
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		code, out, errOut := run(t, "verify", "--namespace", ns, "--valkey-addr", addr)
		if code != 0 || !strings.Contains(out, "1000 revisions verified") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("EnvAddress", func(t *testing.T) {
		t.Setenv("FLOWHIST_VALKEY_ADDR", addr)
		if code, _, errOut := run(t, "verify", "-n", ns); code != 0 {
			t.Fatalf("got exit %d (%s), want 0 with the address from the environment", code, errOut)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		code, _, errOut := run(t, "verify", "--valkey-addr", addr)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "namespace") {
			t.Fatalf("got exit %d, stderr %q, want %d and one line about the namespace", code, errOut, exitUsage)
		}
		code, _, errOut = run(t, "verify", "-n", "bad{ns}", "--valkey-addr", addr)
		if code != exitUsage || !strings.Contains(errOut, "bad{ns}") {
			t.Fatalf("got exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("ErrCorruptStateKey", func(t *testing.T) {
		streamstest.CorruptState(t, ctx, c, ns, "settings", `{"tampered":true}`)
		code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", addr)
		if code != exitFailed || !strings.Contains(errOut, "fh:{"+ns+"}:state settings") {
			t.Fatalf("got exit %d, stderr %q, want %d naming the settings key", code, errOut, exitFailed)
		}
		if _, err := p.Rebuild(ctx, ns); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrCorruptEvent", func(t *testing.T) {
		bad := streamstest.CorruptEvent(t, ctx, c, ns, 700, []byte(`transform`), []byte(`tr4nsform`))
		code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", addr)
		want := "revision " + bad.String() + " is bad"
		if code != exitFailed || !strings.Contains(errOut, want) {
			t.Fatalf("got exit %d, stderr %q, want %d and %q", code, errOut, exitFailed, want)
		}
	})
}
