package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/streamstest"
)

func TestReplay(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	valkey := []string{"-n", ns, "--valkey-addr", s.Addr}

	t.Run("DryRunNothingToDo", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"replay", "--dry-run"}, valkey...)...)
		if code != 0 || out != "nothing would change: state matches the log at revision 4\n" {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("DryRunWouldRewrite", func(t *testing.T) {
		streamstest.CorruptState(t, ctx, s.Valkey, ns, "settings", `{"tampered":true}`)
		code, out, errOut := run(t, append([]string{"replay", "--dry-run"}, valkey...)...)
		if code != 0 || !strings.HasPrefix(out, "replay would rewrite fh:{"+ns+"}:state settings: ") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, _ = run(t, append([]string{"replay", "--dry-run", "--json"}, valkey...)...)
		var r struct {
			OK     bool   `json:"ok"`
			BadKey string `json:"badKey"`
		}
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.OK || r.BadKey == "" {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
	t.Run("Replay", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"replay"}, valkey...)...)
		if code != 0 || out != "replayed 4 revisions; state rebuilt\n" {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		// stderr is no terminal here: plain progress lines.
		if !strings.HasSuffix(errOut, "replay: 4/4 revisions (100%)\n") || strings.Contains(errOut, "\r") {
			t.Errorf("got stderr %q, want plain progress lines ending at 4/4", errOut)
		}
		code, out, _ = run(t, append([]string{"replay", "--dry-run"}, valkey...)...)
		if code != 0 || !strings.HasPrefix(out, "nothing would change") {
			t.Fatalf("after replay: got exit %d, stdout %q", code, out)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, args := range [][]string{{"replay"}, {"replay", "--dry-run"}} {
			code, _, errOut := run(t, append(args, "-n", randomNS(t), "--valkey-addr", s.Addr)...)
			if code != exitNotFound {
				t.Errorf("%v: got exit %d, stderr %q, want %d", args, code, errOut, exitNotFound)
			}
			oneLineErr(t, errOut)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		code, _, errOut := run(t, "replay", "--valkey-addr", s.Addr)
		if code != exitUsage || !strings.Contains(errOut, "namespace") {
			t.Fatalf("got exit %d, stderr %q, want %d", code, errOut, exitUsage)
		}
		oneLineErr(t, errOut)
	})
	t.Run("ErrBadRevision", func(t *testing.T) {
		bad := streamstest.CorruptEvent(t, ctx, s.Valkey, ns, 2, []byte(`transform`), []byte(`tr4nsform`))
		code, _, errOut := run(t, append([]string{"replay", "--dry-run"}, valkey...)...)
		if code != exitFailed || !strings.Contains(errOut, "revision "+bad.String()+" is bad") {
			t.Fatalf("got exit %d, stderr %q, want %d naming revision %d", code, errOut, exitFailed, bad)
		}
		oneLineErr(t, errOut)
	})
}
