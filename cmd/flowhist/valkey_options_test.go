package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// TestValkeyOptionsHonoured runs verify against a password-protected Valkey
// whose data is in database 3: the password and the database must both be
// used, or the namespace is not found.
func TestValkeyOptionsHonoured(t *testing.T) {
	const password = "e2e-valkey-password"
	srv := valkeytest.Start(t, "--requirepass", password)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, Password: password, SelectDB: 3, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store, _ := streams.New(c, streams.Config{}, nil)
	ns := streamstest.Namespace(t)
	streamstest.AppendMixed(t, ctx, store, ns, 3)
	p, _ := projector.New(store, projector.Config{}, nil)
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	t.Setenv("FLOWHIST_VALKEY_PASSWORD", password)
	t.Run("OK", func(t *testing.T) {
		code, out, errOut := run(t, "verify", "-n", ns, "--valkey-addr", srv.Addr, "--valkey-db", "3", "--json")
		if code != 0 || !strings.Contains(out, `"ok": true`) {
			t.Fatalf("got exit %d, %s %s; want the namespace in database 3 verified", code, out, errOut)
		}
	})
	t.Run("ErrOtherDatabase", func(t *testing.T) {
		code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", srv.Addr, "--valkey-db", "0")
		if code != exitNotFound {
			t.Fatalf("got exit %d (%s), want %d: database 0 has no such namespace", code, errOut, exitNotFound)
		}
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		t.Setenv("FLOWHIST_VALKEY_PASSWORD", "wrong")
		code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", srv.Addr, "--valkey-db", "3")
		// A refusal is a setting to fix (exit 5), not an outage to wait
		// out (6): serve would otherwise wait for ever.
		if code != exitAuth || strings.Contains(errOut, "wrong") || !strings.Contains(errOut, "valkey.password") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("got exit %d, stderr %q; want %d in one line naming valkey.password, not echoing the password", code, errOut, exitAuth)
		}
	})
}
