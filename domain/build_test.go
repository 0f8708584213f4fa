package domain_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

var alice = domain.Origin{Actor: domain.Actor{User: "alice", Channel: domain.ChannelNodeRED}, CorrelationID: "c-1"}

func TestNewFlowsEvent(t *testing.T) {
	v1 := mustParse(t, []byte(`[{"id":"t1","type":"tab"},{"id":"f1","type":"function","z":"t1","func":"return msg;"}]`))
	v2 := mustParse(t, []byte(`[{"id":"t1","type":"tab"},{"id":"f1","type":"function","z":"t1","func":"return null;"}]`))
	creds := []byte(`{"$":"aa"}`)
	tests := []struct {
		name        string
		head        domain.FlowsHead
		change      domain.FlowsChange
		wantType    domain.EventType
		wantSummary domain.Summary
		wantCreds   bool // the payload carries credentials
		nextCreds   []byte
	}{
		{"FirstDeploy", domain.FlowsHead{}, domain.FlowsChange{Flows: v1, Origin: alice},
			domain.FlowsDeployed, domain.Summary{Added: []domain.NodeRef{{ID: "t1", Type: "tab"}, {ID: "f1", Type: "function"}}}, false, nil},
		{"ChangeWithCredentials", domain.FlowsHead{Flows: v1}, domain.FlowsChange{Flows: v2, Credentials: creds, Origin: alice},
			domain.FlowsDeployed, domain.Summary{Changed: []domain.NodeRef{{ID: "f1", Type: "function"}}}, true, creds},
		{"UnchangedCredentialsNotStoredAgain", domain.FlowsHead{Flows: v1, Credentials: creds}, domain.FlowsChange{Flows: v2, Credentials: creds},
			domain.FlowsDeployed, domain.Summary{Changed: []domain.NodeRef{{ID: "f1", Type: "function"}}}, false, creds},
		{"CredentialsAlone", domain.FlowsHead{Flows: v1}, domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: creds},
			domain.CredentialsSaved, domain.Summary{}, true, creds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe, err := domain.NewFlowsEvent("prod", tt.head, tt.change)
			if err != nil {
				t.Fatal(err)
			}
			e := fe.Event
			if e.Type != tt.wantType || e.Namespace != "prod" || e.Aggregate != domain.AggregateFlows || e.Schema != domain.FlowsPayloadSchema {
				t.Fatalf("got %s %s %s schema %d, want %s prod flows schema %d", e.Type, e.Namespace, e.Aggregate, e.Schema, tt.wantType, domain.FlowsPayloadSchema)
			}
			if e.Actor != tt.change.Origin.Actor || e.CorrelationID != tt.change.Origin.CorrelationID {
				t.Fatalf("got actor %+v %q, want %+v", e.Actor, e.CorrelationID, tt.change.Origin)
			}
			if !reflect.DeepEqual(fe.Summary, tt.wantSummary) {
				t.Fatalf("got summary %+v, want %+v", fe.Summary, tt.wantSummary)
			}
			if (e.Summary == nil) != tt.wantSummary.IsEmpty() {
				t.Fatalf("got event summary %v, want one exactly when something changed", e.Summary)
			}
			if e.SHA256 != fe.Next.Flows.SHA256() {
				t.Fatalf("got sha256 %s, want the next document's %s", e.SHA256, fe.Next.Flows.SHA256())
			}
			var p domain.FlowsPayload
			if err := domain.DecodePayload(&e, &p); err != nil {
				t.Fatal(err)
			}
			if (p.Credentials != nil) != tt.wantCreds || string(fe.Next.Credentials) != string(tt.nextCreds) {
				t.Fatalf("got payload credentials %s, next %s; want stored %v, next %s", p.Credentials, fe.Next.Credentials, tt.wantCreds, tt.nextCreds)
			}
			// The event rebuilds the next document from the head.
			got, err := tt.head.Flows.Apply(p.Patch)
			if err != nil || got.SHA256() != e.SHA256 {
				t.Fatalf("the patch applied to the head gives %v (%v), want sha256 %s", got, err, e.SHA256)
			}
		})
	}
	t.Run("FingerprintIsTheRequestNotTheHead", func(t *testing.T) {
		a, _ := domain.NewFlowsEvent("prod", domain.FlowsHead{}, domain.FlowsChange{Flows: v2})
		b, _ := domain.NewFlowsEvent("prod", domain.FlowsHead{Flows: v1}, domain.FlowsChange{Flows: v2})
		c, _ := domain.NewFlowsEvent("prod", domain.FlowsHead{Flows: v1}, domain.FlowsChange{Flows: v1})
		if a.Fingerprint != b.Fingerprint || a.Fingerprint == c.Fingerprint {
			t.Fatalf("got fingerprints %s %s %s, want the first two equal and the third different", a.Fingerprint, b.Fingerprint, c.Fingerprint)
		}
	})
	t.Run("ErrCredentialsNotJSON", func(t *testing.T) {
		_, err := domain.NewFlowsEvent("prod", domain.FlowsHead{Flows: v1}, domain.FlowsChange{Credentials: []byte(`{`)})
		if domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("got %v, want invalid", err)
		}
	})
}

func TestRollbackChange(t *testing.T) {
	v1 := mustParse(t, []byte(`[{"id":"a","type":"tab"}]`))
	v2 := mustParse(t, []byte(`[{"id":"b","type":"tab"}]`))
	creds := []byte(`{"$":"aa"}`)
	tests := []struct {
		name             string
		current, target  domain.FlowsHead
		wantCreds        string // "" for nil
		wantNoop, errors bool
	}{
		{"TargetCredentialsRestored", domain.FlowsHead{Flows: v2}, domain.FlowsHead{Flows: v1, Credentials: creds}, `{"$":"aa"}`, false, false},
		{"TargetHadNoneNowSome", domain.FlowsHead{Flows: v2, Credentials: creds}, domain.FlowsHead{Flows: v1}, `{}`, false, false},
		{"NeitherHasAny", domain.FlowsHead{Flows: v2}, domain.FlowsHead{Flows: v1}, "", false, false},
		{"AlreadyThere", domain.FlowsHead{Flows: v1, Credentials: creds}, domain.FlowsHead{Flows: v1, Credentials: creds}, `{"$":"aa"}`, true, false},
		{"ErrTargetHadNoFlows", domain.FlowsHead{Flows: v1}, domain.FlowsHead{}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := domain.RollbackChange(tt.current, tt.target, 7, "bad deploy")
			if tt.errors {
				if domain.ErrorCode(err) != domain.EINVALID {
					t.Fatalf("got %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Type != domain.FlowsRolledBack || c.Cause != domain.CauseRollback || c.Target != 7 || c.Reason != "bad deploy" || c.Flows != tt.target.Flows {
				t.Fatalf("got %+v, want a rollback to 7 restoring the target's flows", c)
			}
			if string(c.Credentials) != tt.wantCreds {
				t.Fatalf("got credentials %q, want %q", c.Credentials, tt.wantCreds)
			}
			if got := c.IsNoop(tt.current); got != tt.wantNoop {
				t.Fatalf("got noop %v, want %v", got, tt.wantNoop)
			}
		})
	}
}

func TestNewPackagesEvent(t *testing.T) {
	current := []domain.Package{{Name: "node-red-node-random", Version: "0.4.0"}}
	tests := []struct {
		name     string
		settings string
		want     []domain.Package // nil: no event
	}{
		{"NoRegistry", `{"a":1}`, nil},
		{"Same", `{"nodes":{"node-red":{"version":"4.1.0"},"node-red-node-random":{"version":"0.4.0","user":true}}}`, nil},
		{"Upgraded", `{"nodes":{"node-red-node-random":{"version":"0.4.1","user":true}}}`, []domain.Package{{Name: "node-red-node-random", Version: "0.4.1"}}},
		{"AddedSorted", `{"nodes":{"zz":{"version":"1","user":true},"node-red-node-random":{"version":"0.4.0","user":true},"core":{"version":"9"}}}`,
			[]domain.Package{{Name: "node-red-node-random", Version: "0.4.0"}, {Name: "zz", Version: "1"}}},
		{"AllRemoved", `{"nodes":{"node-red":{"version":"4.1.0"}}}`, []domain.Package{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := domain.NewPackagesEvent("prod", []byte(tt.settings), current, alice)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if e != nil {
					t.Fatalf("got an event %s, want none", e.Payload)
				}
				return
			}
			if e == nil || e.Type != domain.PackagesChanged || e.Aggregate != domain.AggregatePackages {
				t.Fatalf("got %+v, want a packages.changed event", e)
			}
			var p domain.PackagesPayload
			if err := domain.DecodePayload(e, &p); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Packages, tt.want) {
				t.Fatalf("got packages %+v, want %+v", p.Packages, tt.want)
			}
		})
	}
}

func TestNewSettingsEvent(t *testing.T) {
	settings := []byte(`{"b":1,"a":{"x":[1,2]}}`)
	e, err := domain.NewSettingsEvent("prod", settings, alice)
	if err != nil {
		t.Fatal(err)
	}
	var p domain.SettingsPayload
	if err := domain.DecodePayload(&e, &p); err != nil {
		t.Fatal(err)
	}
	if string(p.Settings) != string(settings) || e.SHA256 != domain.SHA256Hex(settings) || e.Aggregate != domain.AggregateSettings {
		t.Fatalf("got %s with sha256 %s, want the settings as given and their hash", p.Settings, e.SHA256)
	}
}

func TestNewLibraryEvent(t *testing.T) {
	e, err := domain.NewLibraryEvent("prod", domain.LibraryEntry{Type: "functions", Path: "a/b", Body: "x"}, alice)
	if err != nil || e.Aggregate != domain.LibraryAggregate("functions", "a/b") || e.Type != domain.LibrarySaved {
		t.Fatalf("got %+v (%v), want library.saved of functions a/b", e, err)
	}
	for _, bad := range []domain.LibraryEntry{{Type: "..", Path: "a"}, {Type: "f", Path: "a/../b"}, {Type: "f", Path: "a\x00b"}} {
		if _, err := domain.NewLibraryEvent("prod", bad, alice); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("%+v: got %v, want invalid", bad, err)
		}
	}
}

func TestRedact(t *testing.T) {
	got := domain.Redact([]byte(`{"apiKey":"k","nested":{"password":"p","keep":1e400,"list":[{"token":"t","ok":"yes"}]},"user":"u"}`))
	b, _ := json.Marshal(got)
	want := `{"apiKey":"[redacted]","nested":{"keep":1e400,"list":[{"ok":"yes","token":"[redacted]"}],"password":"[redacted]"},"user":"u"}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	if domain.Redact([]byte(`{`)) != nil {
		t.Fatal("got a value for invalid JSON, want nil")
	}
}
