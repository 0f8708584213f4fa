package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// State is a namespace's current value of every aggregate: what the
// projector materializes and what verify recomputes from the log.
type State struct {
	Namespace string
	// Revision is the last namespace revision applied.
	Revision Revision
	Flows    *Flows
	// Credentials is Node-RED's encrypted credentials JSON, nil if none.
	Credentials []byte
	// Settings is the runtime settings JSON, nil if none.
	Settings []byte
	// Library holds entries by LibraryAggregate(type, path).
	Library  map[string]LibraryEntry
	Packages []Package
	Project  *Project
	// Aggregates holds each aggregate's own revision.
	Aggregates map[string]Revision
}

// Project is the active Node-RED project.
type Project struct {
	Name    string
	Updated time.Time
}

// NewState returns the empty state of namespace ns, before revision 1.
func NewState(ns string) *State {
	return &State{Namespace: ns, Library: map[string]LibraryEntry{}, Aggregates: map[string]Revision{}}
}

// Change says which parts of a State an event changed; the projector writes
// only those.
type Change struct {
	// Aggregate is the aggregate the event belongs to.
	Aggregate                                       string
	Flows, Credentials, Settings, Packages, Project bool
	// Library is the aggregate name of the library entry saved, or "".
	Library string
}

// Apply folds e into s. It has no side effects beyond s and is all or
// nothing: on error s is unchanged. It fails if e is not the next revision,
// its aggregate revision is not the next one, or a flows event's rebuilt
// document does not hash to the recorded sha256: each of those means the log
// is not what was appended, and the error names the revision.
func (s *State) Apply(e *Event) (Change, error) { return s.apply(e, true) }

// ApplyUnhashed is Apply without checking a flows event's document against
// its recorded sha256, which costs a hash of the whole document per event:
// for folding a run of events whose documents the caller checks otherwise
// (replay checks the last of each batch, verify hashes them in parallel).
func (s *State) ApplyUnhashed(e *Event) (Change, error) { return s.apply(e, false) }

func (s *State) apply(e *Event, hash bool) (Change, error) {
	ch := Change{Aggregate: e.Aggregate}
	if e.Revision != s.Revision+1 {
		return ch, fmt.Errorf("revision %d: expected revision %d next", e.Revision, s.Revision+1)
	}
	if want := s.Aggregates[e.Aggregate] + 1; e.AggregateRevision != want {
		return ch, fmt.Errorf("revision %d: %s aggregate revision is %d, expected %d", e.Revision, e.Aggregate, e.AggregateRevision, want)
	}
	switch e.Type {
	case FlowsDeployed, CredentialsSaved, FlowsRolledBack:
		var p FlowsPayload
		if err := DecodePayload(e, &p); err != nil {
			return ch, err
		}
		next, err := s.Flows.Apply(p.Patch)
		if err != nil {
			return ch, fmt.Errorf("revision %d: apply flows patch: %w", e.Revision, err)
		}
		if hash {
			if err := CheckFlowsSHA256(e, next); err != nil {
				return ch, err
			}
		}
		ch.Flows = !p.Patch.IsEmpty() || s.Flows == nil
		s.Flows = next
		if p.Credentials != nil {
			ch.Credentials = !bytes.Equal(s.Credentials, p.Credentials)
			s.Credentials = p.Credentials
		}
	case SettingsSaved:
		var p SettingsPayload
		if err := DecodePayload(e, &p); err != nil {
			return ch, err
		}
		if err := checkSHA(e, p.Settings); err != nil {
			return ch, err
		}
		s.Settings, ch.Settings = p.Settings, true
	case LibrarySaved:
		var p LibraryPayload
		if err := DecodePayload(e, &p); err != nil {
			return ch, err
		}
		agg := LibraryAggregate(p.Entry.Type, p.Entry.Path)
		if agg != e.Aggregate {
			return ch, fmt.Errorf("revision %d: library entry %s saved under aggregate %s", e.Revision, agg, e.Aggregate)
		}
		s.Library[agg], ch.Library = p.Entry, agg
	case PackagesChanged:
		var p PackagesPayload
		if err := DecodePayload(e, &p); err != nil {
			return ch, err
		}
		s.Packages, ch.Packages = p.Packages, true
	case ProjectActivated:
		var p ProjectPayload
		if err := DecodePayload(e, &p); err != nil {
			return ch, err
		}
		s.Project, ch.Project = &Project{Name: p.Name, Updated: e.Time}, true
	case RolloutPolicySet, RolloutStarted, RolloutPromoted, RolloutPaused, RolloutResumed, RolloutFailed, RolloutAborted, RolloutCompleted:
		// A rollout's steps are history; its progress is kept beside the
		// state (streams: rollout), not folded here.
		var p RolloutPayload
		if err := DecodePayload(e, &p); err != nil {
			return ch, err
		}
	default:
		return ch, fmt.Errorf("revision %d: unknown event type %q", e.Revision, e.Type)
	}
	s.Revision = e.Revision
	s.Aggregates[e.Aggregate] = e.AggregateRevision
	return ch, nil
}

// CheckFlowsSHA256 checks that f, the document after flows event e, hashes
// to the sha256 e recorded; the error names the revision.
func CheckFlowsSHA256(e *Event, f *Flows) error {
	if got := f.SHA256(); got != e.SHA256 {
		return fmt.Errorf("revision %d: flows sha256 is %s, recorded %s", e.Revision, got, e.SHA256)
	}
	return nil
}

// FlowsRevision returns the flows aggregate's revision.
func (s *State) FlowsRevision() Revision { return s.Aggregates[AggregateFlows] }

// checkSHA verifies a recorded document hash where the event carries one.
func checkSHA(e *Event, doc []byte) error {
	if e.SHA256 == "" {
		return nil
	}
	if got := SHA256Hex(doc); got != e.SHA256 {
		return fmt.Errorf("revision %d: %s sha256 is %s, recorded %s", e.Revision, e.Aggregate, got, e.SHA256)
	}
	return nil
}

// SHA256Hex returns the lowercase hex sha256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
