package streamstest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
)

// AppendMixed appends n events of every kind to ns: flows deploys,
// credentials, settings, library entries, packages and project switches.
func AppendMixed(tb testing.TB, ctx context.Context, s *streams.Store, ns string, n int) {
	tb.Helper()
	doc := domaintest.NewDoc(60)
	for i := 0; i < n; i++ {
		var err error
		switch i % 8 {
		case 0, 1, 2:
			doc.Touch((i * 11) % doc.Len())
			var f *domain.Flows
			if f, err = domain.ParseFlows(doc.Bytes()); err == nil {
				_, err = AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: f, Origin: domain.Origin{Actor: domain.Actor{User: "admin", Channel: domain.ChannelNodeRED}}}, "")
			}
		case 3:
			_, err = AppendFlows(ctx, s, ns, domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: []byte(fmt.Sprintf(`{"$":"%032x"}`, i))}, "")
		case 4:
			err = AppendEvent(ctx, s, ns, domain.SettingsSaved, domain.AggregateSettings, domain.SettingsPayload{Settings: []byte(fmt.Sprintf(`{"_credentialSecret":"s3cr3t","n":%d}`, i))}, fmt.Sprintf(`{"_credentialSecret":"s3cr3t","n":%d}`, i))
		case 5:
			e := domain.LibraryEntry{Type: "functions", Path: fmt.Sprintf("team/f%d.js", i%3), Meta: json.RawMessage(`{"outputs":1}`), Body: fmt.Sprintf("return msg; // %d", i)}
			err = AppendEvent(ctx, s, ns, domain.LibrarySaved, domain.LibraryAggregate(e.Type, e.Path), domain.LibraryPayload{Entry: e}, "")
		case 6:
			err = AppendEvent(ctx, s, ns, domain.PackagesChanged, domain.AggregatePackages, domain.PackagesPayload{Packages: []domain.Package{{Name: "node-red-contrib-x", Version: fmt.Sprintf("1.%d.0", i)}}}, "")
		case 7:
			err = AppendEvent(ctx, s, ns, domain.ProjectActivated, domain.AggregateProject, domain.ProjectPayload{Name: fmt.Sprintf("p%d", i%2)}, "")
		}
		if err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
	}
}

// AppendFlows appends change c to ns's flows, built against the head this
// process knows, with idempotency key key: one attempt, for a test that is
// the namespace's only writer (usecase.App.Deploy is what takes turns and
// retries a lost race).
func AppendFlows(ctx context.Context, s *streams.Store, ns string, c domain.FlowsChange, key string) (streams.FlowsResult, error) {
	base, err := s.FlowsHead(ctx, ns, false)
	if err != nil {
		return streams.FlowsResult{}, err
	}
	fe, err := domain.NewFlowsEvent(ns, base.Head(), c)
	if err != nil {
		return streams.FlowsResult{}, err
	}
	return s.AppendFlows(ctx, ns, base, fe, key)
}

// AppendEvent appends one event of type typ with payload to ns; doc, when
// set, is the aggregate document whose sha256 the event records.
func AppendEvent(ctx context.Context, s *streams.Store, ns string, typ domain.EventType, agg string, payload any, doc string) error {
	b, err := domain.EncodePayload(payload)
	if err != nil {
		return err
	}
	e := domain.Event{Type: typ, Namespace: ns, Aggregate: agg, Schema: domain.PayloadSchema(typ), Payload: b}
	if doc != "" {
		e.SHA256 = domain.SHA256Hex([]byte(doc))
	}
	_, err = s.Append(ctx, streams.AppendRequest{Event: e})
	return err
}
