package httpapi

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// TestWriteHistoryAsWriteJSON: a history page written with big entries
// kept encoded is the same answer, byte for byte, as writeJSON of the
// page, whether the big entry was kept yet or not, with markup and
// unicode in its names, credentials set or not, with and without a next
// cursor; and a kept entry is one per namespace, revision and link.
func TestWriteHistoryAsWriteJSON(t *testing.T) {
	refs := make([]domain.NodeRef, 300)
	for i := range refs {
		refs[i] = domain.NodeRef{ID: fmt.Sprintf("n%d", i), Type: "function", Name: fmt.Sprintf("<b>%d</b> & \u2028 é", i)}
	}
	link := strings.Repeat("ab", 32)
	creds, err := domain.EncodePayload(domain.FlowsPayload{Credentials: []byte(`{"$":"c1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 1, 2, 3, 4000000, time.UTC)
	big := &domain.Event{Type: domain.FlowsDeployed, Namespace: "ns", Revision: 1, Aggregate: domain.AggregateFlows, AggregateRevision: 1, Time: at,
		Provenance: domain.Provenance{Actor: domain.Actor{User: "<script>"}, Summary: &domain.Summary{Added: refs}}, Schema: domain.FlowsPayloadSchema,
		Payload: creds, Hash: link}
	bigPayload := *big
	bigPayload.Revision, bigPayload.Summary = 2, &domain.Summary{Changed: refs[:1]}
	bigPayload.Payload = append(bytes.Repeat([]byte(" "), 70<<10), creds...)
	small := &domain.Event{Type: domain.SettingsSaved, Namespace: "ns", Revision: 3, Aggregate: domain.AggregateSettings, Time: at,
		Provenance: domain.Provenance{Actor: domain.Actor{User: "a&b"}}, Hash: link}
	unlinked := bigPayload
	unlinked.Revision, unlinked.Hash = 4, ""
	for round := range 2 { // the second finds the big entries kept
		for _, next := range []domain.Revision{0, 7} {
			for _, events := range [][]*domain.Event{nil, {small}, {&unlinked, small, &bigPayload, big}, {big}} {
				want := httptest.NewRecorder()
				page := History{Entries: []HistoryEntry{}}
				for _, e := range events {
					page.Entries = append(page.Entries, newEntry(e))
				}
				if next > 0 {
					page.NextCursor = next.String()
				}
				writeJSON(want, 200, page)
				got := httptest.NewRecorder()
				if err := writeHistory(got, "ns", events, next); err != nil {
					t.Fatal(err)
				}
				if got.Body.String() != want.Body.String() || got.Code != 200 || got.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("round %d, %d events, next %d: got %d %q\n%.300q, want\n%.300q", round, len(events), next, got.Code, got.Header(), got.Body, want.Body)
				}
				if n := got.Header().Get("Content-Length"); n != fmt.Sprint(want.Body.Len()) {
					t.Fatalf("got Content-Length %s, want %d", n, want.Body.Len())
				}
			}
		}
	}
	if _, ok := bigEntries.Get("ns 1 " + link); !ok {
		t.Error("the entry of the event with a big summary was not kept")
	}
	if _, ok := bigEntries.Get("ns 2 " + link); !ok {
		t.Error("the entry of the event with a big payload was not kept")
	}
	if _, ok := bigEntries.Get("ns 4 "); ok {
		t.Error("the entry of an event without a link was kept")
	}
}
