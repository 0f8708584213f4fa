package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// The builders here turn a request and the current state into the event to
// append. The use cases (package usecase) call them and hand the event to
// the store, which appends what it is given; neither they nor the HTTP API
// decide what an event contains.

// Origin is who asked for a change, and the request's correlation id.
type Origin struct {
	Actor Actor
	// Token is the name of the token the request authenticated with.
	Token string
	// Claimed is who an import's source says acted (nil: no claim).
	Claimed       *Claim
	CorrelationID string
	// Project is the Node-RED project active where the change was made.
	Project string
}

// FlowsChange is a change to a namespace's flows aggregate.
type FlowsChange struct {
	// Type is FlowsDeployed (the default), CredentialsSaved or
	// FlowsRolledBack.
	Type EventType
	// Flows is the new document; nil keeps the current one.
	Flows *Flows
	// Credentials is the new encrypted credentials JSON; nil keeps the
	// current ones.
	Credentials   []byte
	Origin        Origin
	Cause, Reason string
	// Target is the revision a rollback restores.
	Target Revision
	// Promotion is the source of a promotion (cause promotion).
	Promotion *PromotionRef
}

// FlowsHead is the flows aggregate a change is based on: its document (nil
// before the first deploy) and credentials (nil if none).
type FlowsHead struct {
	Flows       *Flows
	Credentials []byte
}

// FlowsEvent is a flows event with what its append needs beside it.
type FlowsEvent struct {
	Event Event
	// Next is the head after the event.
	Next FlowsHead
	// Summary is the nodes the event added, changed and removed (also in
	// Event.Summary unless empty).
	Summary Summary
	// Fingerprint identifies the request, so that an idempotency key
	// reused for a different request is refused.
	Fingerprint string
	// PatchBytes is the size the event adds to the log, which decides
	// when a snapshot is due.
	PatchBytes int
}

// NewFlowsEvent builds the event that takes ns's flows from head to what c
// describes: the patch against head (credentials only when they changed),
// the summary of nodes touched, and the new document's sha256.
//
// Errors: EINVALID (credentials that are not JSON).
func NewFlowsEvent(ns string, head FlowsHead, c FlowsChange) (FlowsEvent, error) {
	if c.Type == "" {
		c.Type = FlowsDeployed
	}
	next := FlowsHead{Flows: c.Flows, Credentials: head.Credentials}
	if next.Flows == nil {
		next.Flows = head.Flows
	}
	creds := c.Credentials
	if bytes.Equal(creds, head.Credentials) {
		creds = nil // unchanged: not stored again
	}
	if creds != nil {
		next.Credentials = creds
	}
	patch := DiffFlows(head.Flows, next.Flows)
	summary := Summarize(head.Flows, patch)
	payload, err := FlowsPayload{Patch: patch, Credentials: creds}.MarshalJSON()
	if err != nil {
		return FlowsEvent{}, err
	}
	sha := next.Flows.SHA256()
	credFP := ""
	if c.Credentials != nil {
		credFP = SHA256Hex(c.Credentials)
	}
	out := FlowsEvent{
		Event: Event{
			Type: c.Type, Namespace: ns, Aggregate: AggregateFlows, Schema: FlowsPayloadSchema, Payload: payload,
			Provenance: Provenance{
				Actor: c.Origin.Actor, Token: c.Origin.Token, Claimed: c.Origin.Claimed, CorrelationID: c.Origin.CorrelationID, SHA256: sha,
				Cause: c.Cause, Target: c.Target, Reason: c.Reason, Project: c.Origin.Project, Promotion: c.Promotion,
			},
		},
		Next:    next,
		Summary: summary,
		// What the request asked for, not the diff against a head that
		// may have moved: a retry lands on a newer head.
		Fingerprint: Fingerprint(string(c.Type), sha, credFP, c.Cause, c.Target.String()),
		PatchBytes:  patch.Size() + len(creds),
	}
	if !summary.IsEmpty() {
		out.Event.Summary = &out.Summary
	}
	return out, nil
}

// RollbackChange is the change that restores target (the flows aggregate
// as of the revision a rollback names) over current. A target without
// credentials restores "none" as an empty object when there are credentials
// now: nil would keep them.
//
// Errors: EINVALID (target had no flows).
func RollbackChange(current, target FlowsHead, to Revision, reason string) (FlowsChange, error) {
	if target.Flows == nil {
		return FlowsChange{}, Errorf(EINVALID, "there were no flows at revision %d", to)
	}
	creds := target.Credentials
	if creds == nil && current.Credentials != nil {
		creds = []byte("{}")
	}
	return FlowsChange{
		Type: FlowsRolledBack, Flows: target.Flows, Credentials: creds,
		Cause: CauseRollback, Target: to, Reason: reason,
	}, nil
}

// IsNoop reports whether c would leave head as it is.
func (c FlowsChange) IsNoop(head FlowsHead) bool {
	return (c.Flows == nil || c.Flows.SHA256() == head.Flows.SHA256()) &&
		(c.Credentials == nil || bytes.Equal(c.Credentials, head.Credentials))
}

// NewSettingsEvent builds the settings.saved event of settings, which must
// be in their canonical form (see CanonicalSettings): its sha256 is
// recorded.
func NewSettingsEvent(ns string, settings []byte, o Origin) (Event, error) {
	return newEvent(ns, SettingsSaved, AggregateSettings, SettingsPayload{Settings: settings}, SHA256Hex(settings), o)
}

// NewPackagesEvent builds the packages.changed event that a settings save
// implies: nil when the settings' node registry lists the same
// user-installed modules as current, or has no registry.
func NewPackagesEvent(ns string, settings []byte, current []Package, o Origin) (*Event, error) {
	pkgs, ok := PackagesFromSettings(settings)
	if !ok || slices.Equal(pkgs, current) {
		return nil, nil
	}
	e, err := newEvent(ns, PackagesChanged, AggregatePackages, PackagesPayload{Packages: pkgs}, "", o)
	return &e, err
}

// NewLibraryEvent builds the library.saved event of entry.
//
// Errors: EINVALID (the entry's type or path).
func NewLibraryEvent(ns string, entry LibraryEntry, o Origin) (Event, error) {
	if err := ValidateLibraryType(entry.Type); err != nil {
		return Event{}, err
	}
	if err := ValidateLibraryPath(entry.Path); err != nil {
		return Event{}, err
	}
	return newEvent(ns, LibrarySaved, LibraryAggregate(entry.Type, entry.Path), LibraryPayload{Entry: entry}, "", o)
}

// NewProjectEvent builds the project.activated event of the project name.
func NewProjectEvent(ns, name string, o Origin) (Event, error) {
	return newEvent(ns, ProjectActivated, AggregateProject, ProjectPayload{Name: name}, "", o)
}

func newEvent(ns string, typ EventType, aggregate string, payload any, sha string, o Origin) (Event, error) {
	b, err := EncodePayload(payload)
	if err != nil {
		return Event{}, err
	}
	return Event{
		Type: typ, Namespace: ns, Aggregate: aggregate, Schema: PayloadSchema(typ), Payload: b,
		Provenance: Provenance{Actor: o.Actor, Token: o.Token, Claimed: o.Claimed, CorrelationID: o.CorrelationID, SHA256: sha, Project: o.Project},
	}, nil
}

// Fingerprint hashes parts unambiguously (each with its length), for
// telling requests apart.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
