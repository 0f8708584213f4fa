package domain_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func TestHistoryKinds(t *testing.T) {
	want := []string{"flows", "credentials", "settings", "library", "packages", "project", "rollback", "promotion", "rollout"}
	if got := domain.HistoryKinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseHistoryKind(t *testing.T) {
	v1 := mustParse(t, []byte(`[{"id":"t1","type":"tab"}]`))
	flowsEvent := func(head domain.FlowsHead, c domain.FlowsChange) *domain.Event {
		t.Helper()
		fe, err := domain.NewFlowsEvent("prod", head, c)
		if err != nil {
			t.Fatal(err)
		}
		return &fe.Event
	}
	deploy := flowsEvent(domain.FlowsHead{}, domain.FlowsChange{Flows: v1})
	deployCreds := flowsEvent(domain.FlowsHead{}, domain.FlowsChange{Flows: v1, Credentials: []byte(`{"$":"aa"}`)})
	creds := flowsEvent(domain.FlowsHead{Flows: v1}, domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: []byte(`{"$":"bb"}`)})
	rollback := flowsEvent(domain.FlowsHead{Flows: v1}, domain.FlowsChange{Type: domain.FlowsRolledBack, Flows: v1, Cause: domain.CauseRollback, Target: 1, Reason: "r"})
	settings := &domain.Event{Type: domain.SettingsSaved, Aggregate: domain.AggregateSettings}
	library := &domain.Event{Type: domain.LibrarySaved, Aggregate: domain.LibraryAggregate("functions", "a/b")}
	packages := &domain.Event{Type: domain.PackagesChanged, Aggregate: domain.AggregatePackages}
	project := &domain.Event{Type: domain.ProjectActivated, Aggregate: domain.AggregateProject}
	promoted := &domain.Event{Type: domain.FlowsDeployed, Aggregate: domain.AggregateFlows, Provenance: domain.Provenance{Cause: domain.CausePromotion}}
	requested := &domain.Event{Type: domain.PromotionRequested, Aggregate: domain.AggregatePromotion}
	protected := &domain.Event{Type: domain.PolicySet, Aggregate: domain.AggregatePolicy}
	overlay := &domain.Event{Type: domain.OverlaySet, Aggregate: domain.AggregateOverlay}
	rolloutStep, err := domain.NewRolloutEvent("prod", domain.RolloutPromoted, domain.RolloutPayload{Revision: 3, ID: "e3", Ring: "default", Index: 1, By: "gate"}, domain.Origin{Actor: domain.Actor{User: domain.ActorRollout}})
	if err != nil {
		t.Fatal(err)
	}
	rolloutRollback := flowsEvent(domain.FlowsHead{Flows: v1}, domain.FlowsChange{Type: domain.FlowsRolledBack, Flows: v1, Cause: domain.CauseRollback, Target: 1, Reason: "rollout: worker c1 failed", Origin: domain.Origin{Actor: domain.Actor{User: domain.ActorRollout}}})
	all := map[string]*domain.Event{
		"deploy": deploy, "deployCreds": deployCreds, "creds": creds, "rollback": rollback,
		"settings": settings, "library": library, "packages": packages, "project": project,
		"promoted": promoted, "requested": requested, "protected": protected, "overlay": overlay,
		"rolloutStep": &rolloutStep, "rolloutRollback": rolloutRollback,
	}
	tests := []struct {
		kind    string
		matches []string // the events of all it matches; none else
	}{
		{"flows", []string{"deploy", "deployCreds", "rollback", "promoted", "rolloutRollback"}},
		{"credentials", []string{"deployCreds", "creds"}},
		{"settings", []string{"settings"}},
		{"library", []string{"library"}},
		{"packages", []string{"packages"}},
		{"project", []string{"project"}},
		{"rollback", []string{"rollback", "rolloutRollback"}},
		{"promotion", []string{"promoted", "requested", "protected", "overlay"}},
		{"rollout", []string{"rolloutStep"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			k, err := domain.ParseHistoryKind(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			for name, e := range all {
				want := false
				for _, m := range tt.matches {
					want = want || m == name
				}
				if got := k.Match(e); got != want {
					t.Errorf("%s matches %s: got %v, want %v", tt.kind, name, got, want)
				}
			}
		})
	}
	t.Run("ErrUnknown", func(t *testing.T) {
		_, err := domain.ParseHistoryKind("flow")
		if domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("got %v, want EINVALID", err)
		}
		if msg := domain.ErrorMessage(err); !strings.Contains(msg, strings.Join(domain.HistoryKinds(), ", ")) {
			t.Errorf("got %q, want it to list every kind", msg)
		}
	})
}
