package domain_test

import (
	"reflect"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func mustFlows(tb testing.TB, s string) *domain.Flows {
	tb.Helper()
	f, err := domain.ParseFlows([]byte(s))
	if err != nil {
		tb.Fatalf("parse %s: %v", s, err)
	}
	return f
}

func TestMergePromotion(t *testing.T) {
	for _, tc := range []struct {
		name           string
		source, target string
		overlay        domain.Overlay
		want           string
		envNew         []string // node/key
		envOverlaid    []string
		overlayKept    []domain.OverlayProperty
	}{
		{
			name:   "TabKeepsTargetValues",
			source: `[{"id":"t1","type":"tab","label":"A","env":[{"name":"URL","value":"http://staging","type":"str"},{"name":"RETRIES","value":"3","type":"num"}]},{"id":"f1","type":"function","z":"t1","func":"return 2"}]`,
			target: `[{"id":"t1","type":"tab","label":"A","env":[{"name":"URL","value":"http://prod","type":"str"}]},{"id":"f1","type":"function","z":"t1","func":"return 1"}]`,
			want:   `[{"id":"t1","type":"tab","label":"A","env":[{"name":"URL","value":"http://prod","type":"str"},{"name":"RETRIES","value":"3","type":"num"}]},{"id":"f1","type":"function","z":"t1","func":"return 2"}]`,
			envNew: []string{"t1/RETRIES"},
		},
		{
			name:   "RemovedKeyGoes",
			source: `[{"id":"t1","type":"tab","env":[{"name":"A","value":"s"}]}]`,
			target: `[{"id":"t1","type":"tab","env":[{"name":"A","value":"p"},{"name":"OLD","value":"p"}]}]`,
			want:   `[{"id":"t1","type":"tab","env":[{"name":"A","value":"p"}]}]`,
		},
		{
			name:   "RenamedKeyArrivesFlagged",
			source: `[{"id":"t1","type":"tab","env":[{"name":"API_HOST","value":"staging"}]}]`,
			target: `[{"id":"t1","type":"tab","env":[{"name":"API_URL","value":"prod"}]}]`,
			want:   `[{"id":"t1","type":"tab","env":[{"name":"API_HOST","value":"staging"}]}]`,
			envNew: []string{"t1/API_HOST"},
		},
		{
			name:   "NestedGroupsAndSubflowInstance",
			source: `[{"id":"t1","type":"tab"},{"id":"g1","type":"group","z":"t1","env":[{"name":"G","value":"s"}]},{"id":"g2","type":"group","z":"t1","g":"g1","env":[{"name":"H","value":"s"},{"name":"N","value":"s"}]},{"id":"sf","type":"subflow","env":[{"name":"D","value":"s"}]},{"id":"si","type":"subflow:sf","z":"t1","g":"g2","env":[{"name":"D","value":"s-inst"}]}]`,
			target: `[{"id":"t1","type":"tab"},{"id":"g1","type":"group","z":"t1","env":[{"name":"G","value":"p"}]},{"id":"g2","type":"group","z":"t1","g":"g1","env":[{"name":"H","value":"p"}]},{"id":"sf","type":"subflow","env":[{"name":"D","value":"p"}]},{"id":"si","type":"subflow:sf","z":"t1","g":"g2","env":[{"name":"D","value":"p-inst"}]}]`,
			want:   `[{"id":"t1","type":"tab"},{"id":"g1","type":"group","z":"t1","env":[{"name":"G","value":"p"}]},{"id":"g2","type":"group","z":"t1","g":"g1","env":[{"name":"H","value":"p"},{"name":"N","value":"s"}]},{"id":"sf","type":"subflow","env":[{"name":"D","value":"p"}]},{"id":"si","type":"subflow:sf","z":"t1","g":"g2","env":[{"name":"D","value":"p-inst"}]}]`,
			envNew: []string{"g2/N"},
		},
		{
			name:        "OverlayEnvNeverArrivesAndStays",
			source:      `[{"id":"t1","type":"tab","env":[{"name":"SECRET_URL","value":"staging"},{"name":"X","value":"1"}]},{"id":"t2","type":"tab","env":[{"name":"SECRET_URL","value":"staging"}]}]`,
			target:      `[{"id":"t1","type":"tab","env":[{"name":"X","value":"1"}]},{"id":"t2","type":"tab","env":[{"name":"DB","value":"prod"}]}]`,
			overlay:     domain.Overlay{Env: []string{"SECRET_URL", "DB"}},
			want:        `[{"id":"t1","type":"tab","env":[{"name":"X","value":"1"}]},{"id":"t2","type":"tab","env":[{"name":"DB","value":"prod"}]}]`,
			envOverlaid: []string{"t1/SECRET_URL", "t2/SECRET_URL"},
		},
		{
			name:        "NewNodeArrivesWithSourceEnvFlagged",
			source:      `[{"id":"t9","type":"tab","label":"new","env":[{"name":"K","value":"v"},{"name":"SECRET_URL","value":"s"}]}]`,
			target:      `[]`,
			overlay:     domain.Overlay{Env: []string{"SECRET_URL"}},
			want:        `[{"id":"t9","type":"tab","label":"new","env":[{"name":"K","value":"v"}]}]`,
			envNew:      []string{"t9/K"},
			envOverlaid: []string{"t9/SECRET_URL"},
		},
		{
			name:        "OverlayPropertyKept",
			source:      `[{"id":"h1","type":"http in","url":"/staging","method":"get","headers":{"auth":"s","x":"1"}}]`,
			target:      `[{"id":"h1","type":"http in","url":"/prod","method":"post","headers":{"auth":"p","x":"0"}}]`,
			overlay:     domain.Overlay{Properties: []domain.OverlayProperty{{Node: "h1", Path: "url"}, {Node: "h1", Path: "headers.auth"}}},
			want:        `[{"id":"h1","type":"http in","url":"/prod","method":"get","headers":{"auth":"p","x":"1"}}]`,
			overlayKept: []domain.OverlayProperty{{Node: "h1", Path: "url"}, {Node: "h1", Path: "headers.auth"}},
		},
		{
			name:        "OverlayPropertyAbsentOnTargetStaysAbsent",
			source:      `[{"id":"m1","type":"mqtt-broker","broker":"staging","port":1883}]`,
			target:      `[{"id":"m1","type":"mqtt-broker","port":1883}]`,
			overlay:     domain.Overlay{Properties: []domain.OverlayProperty{{Node: "m1", Path: "broker"}, {Node: "gone", Path: "x"}}},
			want:        `[{"id":"m1","type":"mqtt-broker","port":1883}]`,
			overlayKept: []domain.OverlayProperty{{Node: "m1", Path: "broker"}},
		},
		{
			name:   "SourceDecidesNodesAndOrder",
			source: `[{"id":"b","type":"x"},{"id":"a","type":"x"}]`,
			target: `[{"id":"a","type":"x"},{"id":"c","type":"x"}]`,
			want:   `[{"id":"b","type":"x"},{"id":"a","type":"x"}]`,
		},
		{
			name:    "TargetOnlyEnvAddedWhereSourceHasNone",
			source:  `[{"id":"t1","type":"tab","label":"A"}]`,
			target:  `[{"id":"t1","type":"tab","label":"A","env":[{"name":"DB","value":"p"},{"name":"Z","value":"p"}]}]`,
			overlay: domain.Overlay{Env: []string{"DB"}},
			want:    `[{"id":"t1","type":"tab","label":"A","env":[{"name":"DB","value":"p"}]}]`,
		},
		{
			name:   "EscapedKeysKept",
			source: `[{"id":"t1","type":"tab","l\u00e9":"\u003c","env":[{"name":"A","value":"s"}]}]`,
			target: `[{"id":"t1","type":"tab","env":[{"name":"A","value":"p"}]}]`,
			want:   `[{"id":"t1","type":"tab","l\u00e9":"\u003c","env":[{"name":"A","value":"p"}]}]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := domain.MergePromotion(mustFlows(t, tc.source), mustFlows(t, tc.target), tc.overlay)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(m.Flows.Bytes()); got != tc.want {
				t.Errorf("merged\ngot  %s\nwant %s", got, tc.want)
			}
			if got := keys(m.EnvNew); !reflect.DeepEqual(got, tc.envNew) {
				t.Errorf("envNew: got %v, want %v", got, tc.envNew)
			}
			if got := keys(m.EnvOverlaid); !reflect.DeepEqual(got, tc.envOverlaid) {
				t.Errorf("envOverlaid: got %v, want %v", got, tc.envOverlaid)
			}
			if !reflect.DeepEqual(m.OverlayKept, tc.overlayKept) {
				t.Errorf("overlayKept: got %v, want %v", m.OverlayKept, tc.overlayKept)
			}
		})
	}
}

func keys(ks []domain.EnvKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Node+"/"+k.Key)
	}
	return out
}

// TestMergePromotionNamesTabsByLabel: the preview names a tab whose env
// keys it flags by its label, as summaries and diffs do, and a group or
// subflow by its name.
func TestMergePromotionNamesTabsByLabel(t *testing.T) {
	m, err := domain.MergePromotion(
		mustFlows(t, `[{"id":"t1","type":"tab","label":"Orders","env":[{"name":"A","value":"s"},{"name":"B","value":"s"}]},{"id":"g1","type":"group","z":"t1","name":"Edge","env":[{"name":"C","value":"s"}]}]`),
		mustFlows(t, `[{"id":"t1","type":"tab","label":"Orders","env":[{"name":"A","value":"p"}]},{"id":"g1","type":"group","z":"t1","name":"Edge"}]`),
		domain.Overlay{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range append(m.EnvNew, m.EnvOverlaid...) {
		got = append(got, k.Name+"/"+k.Key)
	}
	if want := []string{"Orders/B", "Edge/C"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestMergePromotionIdentity(t *testing.T) {
	// Promoting a document onto itself changes nothing, byte for byte.
	f := mustFlows(t, `[{"id":"t1","type":"tab","env":[{"name":"A","value":"1"}]},{"id":"n","type":"inject","z":"t1","props":[{"p":"payload"}]}]`)
	m, err := domain.MergePromotion(f, f, domain.Overlay{Env: []string{"A"}, Properties: []domain.OverlayProperty{{Node: "n", Path: "props.0.p"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Flows.SHA256() != f.SHA256() || len(m.EnvNew)+len(m.EnvOverlaid)+len(m.OverlayKept) != 0 {
		t.Errorf("got %s %+v, want the document unchanged", m.Flows.Bytes(), m)
	}
}

func TestSamePerson(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b domain.Identity
		want bool
	}{
		{"SameUserOtherToken", domain.Identity{User: "alice", Token: "nr"}, domain.Identity{User: "alice", Token: "cli"}, true},
		{"OtherUserSameAdminToken", domain.Identity{User: "alice", Token: "nr"}, domain.Identity{User: "bob", Token: "nr"}, false},
		{"CaseOfUser", domain.Identity{User: "Alice", Token: "nr"}, domain.Identity{User: "alice", Token: "nr"}, true},
		{"AnonymousSameToken", domain.Identity{Token: "t"}, domain.Identity{Token: "t"}, true},
		{"AnonymousBoth", domain.Identity{}, domain.Identity{}, true},
		{"OneAnonymous", domain.Identity{User: "alice"}, domain.Identity{}, false},
		{"FullwidthUser", domain.Identity{User: "ａｌｉｃｅ"}, domain.Identity{User: "alice"}, true},
		{"ZeroWidthInUser", domain.Identity{User: "ali\u200bce"}, domain.Identity{User: "alice"}, true},
		{"NoBreakSpaceAfterUser", domain.Identity{User: "alice\u00a0"}, domain.Identity{User: "alice"}, true},
		{"SpacesInsideUser", domain.Identity{User: "alice  smith"}, domain.Identity{User: "Alice Smith"}, true},
		{"AccentIsAnotherUser", domain.Identity{User: "alicé"}, domain.Identity{User: "alice"}, false},
		{"InvisibleUsersAreOne", domain.Identity{User: "\u200b"}, domain.Identity{User: "\u200c"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.SamePerson(tc.a, tc.b); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyRefuseDirect(t *testing.T) {
	for _, tc := range []struct {
		p    domain.Policy
		want string
	}{
		{domain.Policy{}, ""},
		{domain.Policy{Protected: true, PromotesFrom: []string{"staging"}}, "protected: promote from staging"},
		{domain.Policy{Protected: true, PromotesFrom: []string{"staging", "dev"}}, "protected: promote from staging or dev"},
		{domain.Policy{Protected: true}, "protected: promote into it"},
	} {
		err := tc.p.RefuseDirect()
		if got := domain.ErrorMessage(err); err != nil && got != tc.want || err == nil && tc.want != "" {
			t.Errorf("%+v: got %v, want %q", tc.p, err, tc.want)
		}
		if err != nil && domain.ErrorCode(err) != domain.EFORBIDDEN {
			t.Errorf("code %s, want forbidden", domain.ErrorCode(err))
		}
	}
}

func TestMissingCredentials(t *testing.T) {
	f := mustFlows(t, `[{"id":"a","type":"x"},{"id":"b","type":"mqtt-broker","name":"br"}]`)
	got, known := domain.MissingCredentials(f, []byte(`{"a":{"u":"1"},"b":{"p":"2"}}`), []byte(`{"a":{"u":"9"}}`))
	if !known || !reflect.DeepEqual(got, []domain.NodeRef{{ID: "b", Type: "mqtt-broker", Name: "br"}}) {
		t.Errorf("clear: got %v %v, want b missing", got, known)
	}
	if got, known := domain.MissingCredentials(f, []byte(`{"$":"abc"}`), nil); known || len(got) != 0 {
		t.Errorf("encrypted: got %v %v, want unknown", got, known)
	}
}

func TestDecide(t *testing.T) {
	r := domain.PromotionRequest{ID: "1", State: domain.RequestPending, RequestedBy: domain.Decision{Identity: domain.Identity{User: "alice", Token: "nr"}}}
	if _, err := r.Decide(domain.Identity{User: "alice", Token: "cli"}, true, "", r.RequestedBy.Time); domain.ErrorCode(err) != domain.EFORBIDDEN {
		t.Errorf("own approval: got %v, want forbidden", err)
	}
	if d, err := r.Decide(domain.Identity{User: "alice", Token: "nr"}, false, "withdrawn", r.RequestedBy.Time); err != nil || d.State != domain.RequestRejected {
		t.Errorf("own rejection: got %v %v, want rejected", d.State, err)
	}
	d, err := r.Decide(domain.Identity{User: "bob", Token: "nr"}, true, "", r.RequestedBy.Time)
	if err != nil || d.State != domain.RequestApproved {
		t.Fatalf("got %v %v, want approved", d.State, err)
	}
	if _, err := d.Decide(domain.Identity{User: "carol"}, false, "", r.RequestedBy.Time); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Errorf("decided twice: got %v, want conflict", err)
	}
}

// FuzzMergePromotion: whatever two flows documents, the merge is a valid
// document with the source's nodes in the source's order, and merging a
// document onto itself gives it back byte for byte.
func FuzzMergePromotion(f *testing.F) {
	f.Add(`[{"id":"t1","type":"tab","env":[{"name":"A","value":"1"}]}]`, `[{"id":"t1","type":"tab","env":[{"name":"A","value":"2"},{"name":"B"}]}]`, "A", "t1", "env.0.value")
	f.Add(`[{"id":"a","type":"x","env":[1,2]}]`, `[{"id":"a","type":"x","env":{"name":"A"}}]`, "", "a", "env")
	f.Add(`[{"id":"h","type":"http in","url":"/s","h":{"a":[1,{"b":2}]}}]`, `[{"id":"h","type":"http in","h":{"a":[3]}}]`, "x", "h", "h.a.1.b")
	f.Fuzz(func(t *testing.T, src, dst, env, node, path string) {
		s, err1 := domain.ParseFlows([]byte(src))
		d, err2 := domain.ParseFlows([]byte(dst))
		o := domain.Overlay{Env: []string{env}, Properties: []domain.OverlayProperty{{Node: node, Path: path}}}
		if err1 != nil || err2 != nil || o.Validate() != nil {
			return
		}
		m, err := domain.MergePromotion(s, d, o)
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		got := m.Flows.Nodes()
		if len(got) != s.Len() {
			t.Fatalf("got %d nodes, want the source's %d", len(got), s.Len())
		}
		for i, n := range s.Nodes() {
			if got[i].ID != n.ID {
				t.Fatalf("node %d: got %s, want %s", i, got[i].ID, n.ID)
			}
		}
		if _, err := domain.ParseFlows(m.Flows.Bytes()); err != nil {
			t.Fatalf("merged document does not parse: %v", err)
		}
		same, err := domain.MergePromotion(s, s, o)
		if err != nil || same.Flows.SHA256() != s.SHA256() {
			t.Fatalf("merging onto itself: got %s (%v), want %s", same.Flows.Bytes(), err, s.Bytes())
		}
	})
}
