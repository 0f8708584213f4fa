package domain_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

// history builds a log of events with revisions assigned as the store
// would: one namespace revision each, aggregate revisions per aggregate.
func history(tb testing.TB, events ...domain.Event) []*domain.Event {
	tb.Helper()
	agg := map[string]domain.Revision{}
	out := make([]*domain.Event, len(events))
	for i := range events {
		e := events[i]
		agg[e.Aggregate]++
		e.Revision, e.AggregateRevision = domain.Revision(i+1), agg[e.Aggregate]
		out[i] = &e
	}
	return out
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

func TestStateApply(t *testing.T) {
	v1 := mustParse(t, []byte(`[{"id":"t1","type":"tab"}]`))
	v2 := mustParse(t, []byte(`[{"id":"t1","type":"tab","label":"2"}]`))
	ev := must[domain.Event](t)
	flows := func(head domain.FlowsHead, c domain.FlowsChange) domain.Event {
		t.Helper()
		return must[domain.FlowsEvent](t)(domain.NewFlowsEvent("prod", head, c)).Event
	}
	log := history(t,
		flows(domain.FlowsHead{}, domain.FlowsChange{Flows: v1, Credentials: []byte(`{"$":"aa"}`)}),
		ev(domain.NewSettingsEvent("prod", []byte(`{"a":1}`), alice)),
		ev(domain.NewLibraryEvent("prod", domain.LibraryEntry{Type: "functions", Path: "x/y", Body: "b"}, alice)),
		flows(domain.FlowsHead{Flows: v1, Credentials: []byte(`{"$":"aa"}`)}, domain.FlowsChange{Flows: v2}),
		*must[*domain.Event](t)(domain.NewPackagesEvent("prod", []byte(`{"nodes":{"m":{"version":"1","user":true}}}`), nil, alice)),
		ev(domain.NewProjectEvent("prod", "p1", alice)),
	)
	wantChanges := []domain.Change{
		{Aggregate: domain.AggregateFlows, Flows: true, Credentials: true},
		{Aggregate: domain.AggregateSettings, Settings: true},
		{Aggregate: domain.LibraryAggregate("functions", "x/y"), Library: domain.LibraryAggregate("functions", "x/y")},
		{Aggregate: domain.AggregateFlows, Flows: true},
		{Aggregate: domain.AggregatePackages, Packages: true},
		{Aggregate: domain.AggregateProject, Project: true},
	}
	st := domain.NewState("prod")
	for i, e := range log {
		ch, err := st.Apply(e)
		if err != nil {
			t.Fatalf("revision %d: %v", e.Revision, err)
		}
		if !reflect.DeepEqual(ch, wantChanges[i]) {
			t.Fatalf("revision %d: got change %+v, want %+v", e.Revision, ch, wantChanges[i])
		}
	}
	switch {
	case st.Revision != 6:
		t.Fatalf("got revision %d, want 6", st.Revision)
	case st.Flows.SHA256() != v2.SHA256() || string(st.Credentials) != `{"$":"aa"}`:
		t.Fatalf("got flows %s credentials %s, want v2 and the first deploy's credentials", st.Flows.Bytes(), st.Credentials)
	case string(st.Settings) != `{"a":1}` || st.Library[domain.LibraryAggregate("functions", "x/y")].Body != "b":
		t.Fatalf("got settings %s and library %+v", st.Settings, st.Library)
	case len(st.Packages) != 1 || st.Project == nil || st.Project.Name != "p1":
		t.Fatalf("got packages %+v project %+v", st.Packages, st.Project)
	case st.FlowsRevision() != 2 || st.Aggregates[domain.AggregateSettings] != 1:
		t.Fatalf("got aggregate revisions %v, want flows 2 and settings 1", st.Aggregates)
	}

	// Each fault names the revision and leaves the state as it was.
	next := func(mutate func(e *domain.Event)) *domain.Event {
		e := ev(domain.NewSettingsEvent("prod", []byte(`{"b":2}`), alice))
		e.Revision, e.AggregateRevision = 7, 2
		mutate(&e)
		return &e
	}
	for _, tt := range []struct {
		name string
		e    *domain.Event
		want string
	}{
		{"ErrRevisionGap", next(func(e *domain.Event) { e.Revision = 8 }), "expected revision 7"},
		{"ErrRevisionRepeated", next(func(e *domain.Event) { e.Revision = 6 }), "expected revision 7"},
		{"ErrAggregateRevision", next(func(e *domain.Event) { e.AggregateRevision = 3 }), "aggregate revision is 3, expected 2"},
		{"ErrSettingsHash", next(func(e *domain.Event) { e.SHA256 = strings.Repeat("0", 64) }), "sha256"},
		{"ErrFlowsHash", func() *domain.Event {
			e := flows(domain.FlowsHead{Flows: v2}, domain.FlowsChange{Flows: v1})
			e.Revision, e.AggregateRevision, e.SHA256 = 7, 3, strings.Repeat("0", 64)
			return &e
		}(), "flows sha256"},
		{"ErrLibraryAggregate", func() *domain.Event {
			e := ev(domain.NewLibraryEvent("prod", domain.LibraryEntry{Type: "functions", Path: "other", Body: "b"}, alice))
			e.Aggregate, e.Revision, e.AggregateRevision = domain.LibraryAggregate("functions", "x/y"), 7, 2
			return &e
		}(), "saved under aggregate"},
		{"ErrUnknownType", next(func(e *domain.Event) { e.Type = "nope" }), "unknown event type"},
		{"ErrPayload", next(func(e *domain.Event) { e.Payload = []byte(`{`) }), "revision 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := st.Revision
			_, err := st.Apply(tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			if st.Revision != before || string(st.Settings) != `{"a":1}` || st.Flows.SHA256() != v2.SHA256() {
				t.Fatalf("the failed apply changed the state")
			}
		})
	}
}
