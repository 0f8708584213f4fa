package projector_test

import (
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// TestCompatTurnedOn covers compat turned on for a namespace whose log
// already holds flows (imported from an old cluster): old workers are told
// to reload only when the old module's keys do not already hold those
// flows as the old module wrote them, and an empty package list (the
// namespace never recorded packages) is never published: old workers with
// syncPackages would uninstall theirs.
func TestCompatTurnedOn(t *testing.T) {
	t.Parallel()
	doc := domaintest.NewDoc(5)
	creds := `{"$":"00112233445566778899aabbccddeeffAAAA"}`
	f, _ := domain.ParseFlows(doc.Bytes())
	other := domaintest.NewDoc(6)
	for _, tc := range []struct {
		name         string
		flows, creds string // the old keys; "" absent
		wantReload   bool
	}{
		{"SameFlowsNoReload", `{"flows":` + string(doc.Bytes()) + `,"rev":"0"}`, creds, false},
		{"SameBareArrayNoReload", string(doc.Bytes()), creds, false},
		{"OtherFlowsReload", `{"flows":` + string(other.Bytes()) + `,"rev":"0"}`, creds, true},
		{"OtherCredentialsReload", `{"flows":` + string(doc.Bytes()) + `,"rev":"0"}`, `{"$":"ff"}`, true},
		{"NoKeysReload", "", "", true},
		// Written by flowhist (its rev): a crash may have come before the
		// message, so it is sent again.
		{"FlowhistsKeysReload", `{"flows":` + string(doc.Bytes()) + `,"rev":"` + f.SHA256() + `"}`, creds, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := valkeytest.Start(t)
			c := mustClient(t, srv.Addr)
			ctx := testCtx(t)
			s := mustStore(t, c)
			ns := randomNS(t)
			if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: f, Credentials: []byte(creds)}, ""); err != nil {
				t.Fatal(err)
			}
			// Projected without compat first, as before compat was on.
			if _, err := mustProjector(t, s, projector.Config{}).CatchUpNamespace(ctx, ns); err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{"nr:flows": tc.flows, "nr:credentials": tc.creds} {
				if v != "" {
					mustAppend(t, c.Do(ctx, c.B().Set().Key(k).Value(v).Build()).Error())
				}
			}
			msgs := make(chan string, 10)
			sub, cancel := c.Dedicate()
			defer cancel()
			sub.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(m rueidis.PubSubMessage) { msgs <- m.Channel + " " + m.Message }})
			mustAppend(t, sub.Do(ctx, sub.B().Subscribe().Channel("nr:flows:updated", "nodered:packages:updated").Build()).Error())

			p := mustProjector(t, s, projector.Config{Compat: map[string]projector.Compat{ns: {Prefix: "nr:"}}})
			if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
				t.Fatal(err)
			}
			// A marker after the catch-up: whatever the catch-up published
			// arrives before it.
			mustAppend(t, c.Do(ctx, c.B().Publish().Channel("nr:flows:updated").Message("marker").Build()).Error())
			var got []string
			for m := ""; m != "nr:flows:updated marker"; {
				select {
				case m = <-msgs:
					if m != "nr:flows:updated marker" {
						got = append(got, m)
					}
				case <-ctx.Done():
					t.Fatal("the marker never came")
				}
			}
			reloaded := len(got) == 1 && len(got[0]) > len("nr:flows:updated ")
			if reloaded != tc.wantReload || len(got) > 1 {
				t.Fatalf("got messages %q, want a flows-updated message: %v, and no package list", got, tc.wantReload)
			}
			if n, _ := c.Do(ctx, c.B().Exists().Key("nodered:packages").Build()).AsInt64(); n != 0 {
				t.Fatalf("nodered:packages was written, want no package list for a namespace without packages")
			}
			mustVerify(t, ctx, s, ns)
		})
	}
}
