package main

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

// exportFormat is the first line of a history bundle; its version changes
// when the lines change meaning.
const exportFormat = 1

// bundleHeader is the first line of a history bundle.
type bundleHeader struct {
	Format    int             `json:"flowhistExport"`
	Namespace string          `json:"namespace"`
	Revision  domain.Revision `json:"revision"`
	Exported  time.Time       `json:"exported"`
}

// bundleEvent is one line of a history bundle after the header: one event
// of the log with the whole document of its aggregate after it (the flows
// and credentials after a flows event, the settings after a settings
// event, and so on), so that a reader needs no patches or snapshots.
type bundleEvent struct {
	Revision    domain.Revision      `json:"revision"`
	Type        domain.EventType     `json:"type"`
	Time        time.Time            `json:"time"`
	Actor       domain.Actor         `json:"actor"`
	Cause       string               `json:"cause,omitempty"`
	Target      domain.Revision      `json:"target,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	Flows       json.RawMessage      `json:"flows,omitempty"`
	Credentials json.RawMessage      `json:"credentials,omitempty"`
	Settings    json.RawMessage      `json:"settings,omitempty"`
	Entry       *domain.LibraryEntry `json:"entry,omitempty"`
	Packages    []domain.Package     `json:"packages,omitempty"`
	Project     *string              `json:"project,omitempty"`
}

// writeHistoryBundle writes ns's log up to rev (0: all of it) as a history
// bundle: a header line, then one JSON line per event. It folds the log as
// verify does, so a log that does not fold fails here, naming the revision.
func writeHistoryBundle(ctx context.Context, store *streams.Store, ns string, rev domain.Revision, w io.Writer) (domain.Revision, error) {
	head, err := store.Head(ctx, ns)
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
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bundleHeader{Format: exportFormat, Namespace: ns, Revision: rev, Exported: time.Now().UTC()}); err != nil {
		return 0, err
	}
	st := domain.NewState(ns)
	for from := domain.Revision(1); from <= rev; {
		events, err := store.Read(ctx, ns, streams.Query{From: from, To: rev, Limit: 500})
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
			line := bundleEvent{Revision: e.Revision, Type: e.Type, Time: e.Time, Actor: e.Actor, Cause: e.Cause, Target: e.Target, Reason: e.Reason}
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
				return 0, domain.Errorf(domain.EINTERNAL, "namespace %s: revision %d: export does not know event type %s", ns, e.Revision, e.Type)
			}
			if err := enc.Encode(line); err != nil {
				return 0, err
			}
		}
		from = events[len(events)-1].Revision + 1
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	return rev, nil
}
