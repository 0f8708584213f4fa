package domain

import (
	"bytes"
	"strings"
)

// HistoryKind is one value of the history's kind filter: its name, as the
// API and the editor spell it, and which events it matches.
type HistoryKind struct {
	Name  string
	Match func(*Event) bool
}

// historyKinds is the one list of history kinds, in the order the editor
// offers them (GET …/history/kinds serves it).
var historyKinds = []HistoryKind{
	{"flows", func(e *Event) bool { return e.Type == FlowsDeployed || e.Type == FlowsRolledBack }},
	{"credentials", func(e *Event) bool {
		return e.Type == CredentialsSaved || e.Aggregate == AggregateFlows && CredentialsOf(e) != nil
	}},
	{"settings", func(e *Event) bool { return e.Aggregate == AggregateSettings }},
	{"library", func(e *Event) bool { return IsLibraryAggregate(e.Aggregate) }},
	{"packages", func(e *Event) bool { return e.Aggregate == AggregatePackages }},
	{"project", func(e *Event) bool { return e.Aggregate == AggregateProject }},
	{"rollback", func(e *Event) bool { return e.Type == FlowsRolledBack || e.Cause == CauseRollback }},
	// A promotion between namespaces: the deploy it landed as, its
	// requests and decisions, and the policy and overlay that govern it.
	{"promotion", func(e *Event) bool {
		return e.Cause == CausePromotion || e.Aggregate == AggregatePromotion || e.Aggregate == AggregatePolicy || e.Aggregate == AggregateOverlay
	}},
	// A staged rollout's steps: its policy, start, promotions, pauses,
	// failure, abort and completion (a rollback it appended is a rollback).
	{"rollout", func(e *Event) bool { return e.Aggregate == AggregateRollout }},
}

// HistoryKinds returns the names of the history kinds, in their order.
func HistoryKinds() []string {
	names := make([]string, len(historyKinds))
	for i, k := range historyKinds {
		names[i] = k.Name
	}
	return names
}

// ParseHistoryKind returns the history kind called name.
//
// Errors: EINVALID (no kind has that name; the message lists them).
func ParseHistoryKind(name string) (HistoryKind, error) {
	for _, k := range historyKinds {
		if k.Name == name {
			return k, nil
		}
	}
	return HistoryKind{}, Errorf(EINVALID, "kind %q is not one of %s", Clip(name), strings.Join(HistoryKinds(), ", "))
}

// CredentialsOf returns the credentials a flows event set, nil if none. The
// payload is decoded only when it can hold them.
func CredentialsOf(e *Event) []byte {
	if !bytes.Contains(e.Payload, []byte(`"credentials":`)) {
		return nil
	}
	var p FlowsPayload
	if err := DecodePayload(e, &p); err != nil {
		return nil
	}
	return p.Credentials
}

// Clip shortens a client's value for an error message: a message quotes
// what was wrong, not 64 KB of it.
func Clip(v string) string {
	const max = 64
	if len(v) <= max {
		return v
	}
	return strings.ToValidUTF8(v[:max], "") + "…"
}
