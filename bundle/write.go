package bundle

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Log is the namespace log Write reads: a *streams.Store.
type Log interface {
	Head(ctx context.Context, ns string) (streams.Head, error)
	Read(ctx context.Context, ns string, q streams.Query) ([]*domain.Event, error)
	ChainOf(ctx context.Context, ns string) (streams.Chain, error)
	Checkpoints(ctx context.Context, ns string, since time.Time, fn func(c []byte) error) error
}

// Write writes ns's log up to rev (0: all of it) to w as a bundle and
// returns the last revision written. It folds the log as verify does, so a
// log that does not fold fails here, naming the revision. Errors:
// ENOTFOUND (no such namespace or revision), ECORRUPT, EUNAVAILABLE, and
// w's own.
func Write(ctx context.Context, log Log, ns string, rev domain.Revision, w io.Writer) (domain.Revision, error) {
	head, err := log.Head(ctx, ns)
	if err != nil {
		return 0, err
	}
	if head.Revision == 0 {
		return 0, domain.Errorf(domain.ENOTFOUND, "namespace %s has no log: check the name", ns)
	}
	if rev == 0 {
		rev = head.Revision
	}
	if rev > head.Revision {
		return 0, domain.Errorf(domain.ENOTFOUND, "namespace %s has no revision %d (newest is %d)", ns, rev, head.Revision)
	}
	chain, err := log.ChainOf(ctx, ns)
	if err != nil {
		return 0, err
	}
	// The head link is that of revision rev: read it before the rest.
	last, err := log.Read(ctx, ns, streams.Query{From: rev, To: rev, Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(last) != 1 {
		return 0, domain.Errorf(domain.ECORRUPT, "namespace %s: revision %d is missing from the log", ns, rev)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	h := Header{Format: Format, Namespace: ns, Revision: rev, Exported: time.Now().UTC(),
		Chain: &Chain{Start: chain.Start, Anchor: chain.Anchor, Head: last[0].Hash}}
	if h.Chain.Head == "" && rev+1 == chain.Start {
		h.Chain.Head = chain.Anchor
	}
	if err := enc.Encode(h); err != nil {
		return 0, err
	}
	st := domain.NewState(ns)
	for from := domain.Revision(1); from <= rev; {
		events, err := log.Read(ctx, ns, streams.Query{From: from, To: rev, Limit: 500})
		if err != nil {
			return 0, err
		}
		if len(events) == 0 {
			return 0, domain.Errorf(domain.ECORRUPT, "namespace %s: revision %d is missing from the log", ns, from)
		}
		for _, e := range events {
			if _, err := st.Apply(e); err != nil {
				return 0, domain.Errorf(domain.ECORRUPT, "namespace %s: %v (run flowhist verify)", ns, err)
			}
			line, err := eventAfter(st, e)
			if err != nil {
				return 0, err
			}
			if err := enc.Encode(line); err != nil {
				return 0, err
			}
		}
		from = events[len(events)-1].Revision + 1
	}
	err = log.Checkpoints(ctx, ns, time.Time{}, func(c []byte) error {
		var at struct {
			Revision domain.Revision `json:"revision"`
		}
		if json.Unmarshal(c, &at) != nil || at.Revision == 0 || at.Revision > rev {
			return nil // not one of ours, or past what the bundle holds
		}
		return enc.Encode(Checkpoint{Checkpoint: c})
	})
	if err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	return rev, nil
}

// eventAfter is e's line, with the document of its aggregate as st holds
// it after e.
func eventAfter(st *domain.State, e *domain.Event) (Event, error) {
	line := Event{Revision: e.Revision, Type: e.Type, Time: e.Time, Actor: e.Actor, Token: e.Token, Claimed: e.Claimed, Cause: e.Cause, Target: e.Target, Reason: e.Reason, Hash: e.Hash}
	if domain.IsRolloutEvent(e.Type) {
		// A staged rollout's step: history with no document of its own.
		return line, nil
	}
	switch e.Type {
	case domain.FlowsDeployed, domain.FlowsRolledBack, domain.CredentialsSaved:
		line.Flows = st.Flows.Bytes()
		line.Credentials = st.Credentials
	case domain.SettingsSaved:
		line.Settings = st.Settings
	case domain.LibrarySaved:
		entry := st.Library[e.Aggregate]
		line.Entry = &entry
	case domain.PackagesChanged:
		line.Packages = append([]domain.Package{}, st.Packages...)
	case domain.ProjectActivated:
		name := ""
		if st.Project != nil {
			name = st.Project.Name
		}
		line.Project = &name
	default:
		return line, domain.Errorf(domain.EINTERNAL, "namespace %s: revision %d: export does not know event type %s", st.Namespace, e.Revision, e.Type)
	}
	return line, nil
}
