package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestCheckpointsProveTheLog walks the auditor's path through the command
// line: keygen, checkpoint, export, then verify --checkpoints after each of
// the two attacks the chain alone cannot see — the whole chain rewritten
// consistently, and every key of the namespace put back to an earlier
// state.
func TestCheckpointsProveTheLog(t *testing.T) {
	addr, ctx, c, store := sharedStore(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "audit.key")
	if code, out, errOut := run(t, "keygen", "--out", key); code != 0 || !strings.Contains(out, "audit.key.pub") {
		t.Fatalf("keygen: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "keygen", "--out", key); code == 0 || !strings.Contains(errOut, "exists already") {
		t.Fatalf("second keygen: exit %d, %q; want a refusal to overwrite", code, errOut)
	}

	proj, _ := projector.New(store, projector.Config{}, nil)
	// appendN appends n events to ns and projects them, as serve would.
	appendN := func(t *testing.T, ns string, n int) {
		t.Helper()
		streamstest.AppendMixed(t, ctx, store, ns, n)
		if _, err := proj.CatchUpNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	// sign appends n events to ns, signs its head and exports its
	// checkpoints to a file, which it returns.
	sign := func(t *testing.T, ns string, n int) string {
		t.Helper()
		appendN(t, ns, n)
		if code, out, errOut := run(t, "checkpoint", "-n", ns, "--key", key, "--valkey-addr", addr); code != 0 || !strings.Contains(out, `"namespace":"`+ns+`"`) {
			t.Fatalf("checkpoint: exit %d, %q %q", code, out, errOut)
		}
		file := filepath.Join(dir, ns+".jsonl")
		if code, _, errOut := run(t, "checkpoint", "export", "-n", ns, "--since", "1h", "-o", file, "--valkey-addr", addr); code != 0 {
			t.Fatalf("export: exit %d, %q", code, errOut)
		}
		return file
	}
	verify := func(t *testing.T, ns, file string) (int, string, string) {
		return run(t, "verify", "-n", ns, "--checkpoints", file, "--public-key", key+".pub", "--valkey-addr", addr)
	}

	t.Run("OK", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		sign(t, ns, 20)
		file := sign(t, ns, 5)
		code, out, errOut := verify(t, ns, file)
		if code != 0 || !strings.Contains(out, "2 signed checkpoints match") || !strings.Contains(out, "hash chain intact from revision 1") {
			t.Fatalf("got exit %d, %q %q", code, out, errOut)
		}
	})
	t.Run("ErrRewrittenConsistently", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		file := sign(t, ns, 20)
		streamstest.EditEntry(t, ctx, c, ns, 3, "e", func(e string) string { return strings.Replace(e, `"user":"admin"`, `"user":"mallory"`, 1) })
		streamstest.Reseal(t, ctx, store, c, ns)
		// The attacker replays, so the state agrees with the new log:
		// without checkpoints nothing tells.
		if _, err := proj.Rebuild(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", addr); code != 0 {
			t.Fatalf("without checkpoints: exit %d (%q), want 0: the rewritten chain is consistent", code, errOut)
		}
		code, _, errOut := verify(t, ns, file)
		if code != exitFailed || !strings.Contains(errOut, "checkpoint of "+ns+" at revision 20") || !strings.Contains(errOut, "no longer matches") {
			t.Fatalf("got exit %d, %q; want the checkpoint at revision 20 named", code, errOut)
		}
	})
	t.Run("ErrRestoredToEarlierState", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		appendN(t, ns, 10)
		before := streamstest.DumpNamespace(t, ctx, c, ns)
		file := sign(t, ns, 10)
		streamstest.RestoreNamespace(t, ctx, c, ns, before)
		if code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", addr); code != 0 {
			t.Fatalf("without checkpoints: exit %d (%q), want 0: the restored namespace is consistent", code, errOut)
		}
		code, _, errOut := verify(t, ns, file)
		if code != exitFailed || !strings.Contains(errOut, "at revision 20") || !strings.Contains(errOut, "ends at 10") {
			t.Fatalf("got exit %d, %q; want the checkpoint at revision 20 named", code, errOut)
		}
	})
	t.Run("ErrForgedCheckpoint", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		file := sign(t, ns, 5)
		b, _ := os.ReadFile(file)
		os.WriteFile(file, []byte(strings.Replace(string(b), `"revision":5`, `"revision":4`, 1)), 0o644)
		code, _, errOut := verify(t, ns, file)
		if code != exitUsage || !strings.Contains(errOut, "signature does not match") {
			t.Fatalf("got exit %d, %q; want the forged checkpoint refused", code, errOut)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		ns := streamstest.Namespace(t)
		if code, _, errOut := run(t, "verify", "-n", ns, "--checkpoints", "x", "--valkey-addr", addr); code != exitUsage || !strings.Contains(errOut, "go together") {
			t.Fatalf("got exit %d, %q", code, errOut)
		}
		if code, _, errOut := run(t, "checkpoint", "-n", ns, "--valkey-addr", addr); code != exitUsage || !strings.Contains(errOut, "flowhist keygen") {
			t.Fatalf("got exit %d, %q", code, errOut)
		}
		os.Chmod(key, 0o640)
		defer os.Chmod(key, 0o600)
		if code, _, errOut := run(t, "checkpoint", "-n", ns, "--key", key, "--valkey-addr", addr); code != exitUsage || !strings.Contains(errOut, "chmod 600") {
			t.Fatalf("got exit %d, %q", code, errOut)
		}
	})
}
