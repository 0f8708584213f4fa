package projector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Report is the outcome of Verify.
type Report struct {
	Namespace string `json:"namespace"`
	// Revisions is how many events were folded.
	Revisions domain.Revision `json:"revisions"`
	// OK is true when every revision folded and the state equals the fold.
	OK bool `json:"ok"`
	// BadRevision is the first revision that does not fold, 0 if none.
	BadRevision domain.Revision `json:"badRevision,omitempty"`
	// BadKey names the first stored state that differs from the fold.
	BadKey string `json:"badKey,omitempty"`
	// Problem says what is wrong, in one line.
	Problem string `json:"problem,omitempty"`
}

// Verify folds ns's whole log, checking that revisions are gapless and every
// flows revision rebuilds to its recorded sha256, then compares the
// projected state with the fold. It writes nothing. A namespace that does
// not verify is reported in the Report, not as an error; the error is for
// failing to read.
func Verify(ctx context.Context, store *streams.Store, ns string) (Report, error) {
	r := Report{Namespace: ns}
	fold := domain.NewState(ns)
	for {
		events, err := store.Read(ctx, ns, streams.Query{From: fold.Revision + 1, Limit: 512})
		if err != nil {
			if domain.ErrorCode(err) == domain.ECORRUPT {
				// A log entry that does not decode.
				r.BadRevision, r.Problem = fold.Revision+1, err.Error()
				return r, nil
			}
			return r, err
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Revision != fold.Revision+1 {
				r.BadRevision, r.Revisions = fold.Revision+1, fold.Revision
				r.Problem = fmt.Sprintf("revision %d is missing from the log", fold.Revision+1)
				return r, nil
			}
			if _, err := fold.Apply(e); err != nil {
				r.BadRevision, r.Problem = e.Revision, err.Error()
				r.Revisions = fold.Revision
				return r, nil
			}
		}
	}
	r.Revisions = fold.Revision
	head, err := store.Head(ctx, ns)
	if err != nil {
		return r, err
	}
	if head.Revision == 0 && fold.Revision == 0 {
		return r, domain.Errorf(domain.ENOTFOUND, "namespace %s has no log: check the name (flowhist lists namespaces that have one)", ns)
	}
	if head.Revision != fold.Revision {
		r.BadRevision = fold.Revision + 1
		r.Problem = fmt.Sprintf("meta says revision %d, the log folds to %d", head.Revision, fold.Revision)
		return r, nil
	}
	stored, err := store.LoadState(ctx, ns)
	if err != nil {
		r.BadKey, r.Problem = "state", err.Error()
		return r, nil
	}
	if key, problem := diffState(stored.State, fold); key != "" {
		r.BadKey, r.Problem = key, problem
		return r, nil
	}
	r.OK = true
	return r, nil
}

// diffState names the first part of got that differs from want.
func diffState(got, want *domain.State) (key, problem string) {
	ns := want.Namespace
	keys := streams.KeysOf(ns)
	state := func(field string) string { return keys.State + " " + field }
	if got.Revision != want.Revision {
		return state("checkpoint"), fmt.Sprintf("checkpoint is %d, the log is at %d", got.Revision, want.Revision)
	}
	if !bytes.Equal(flowsBytes(got.Flows), flowsBytes(want.Flows)) {
		return state("flows"), fmt.Sprintf("flows hash to %s, the fold to %s", got.Flows.SHA256(), want.Flows.SHA256())
	}
	if !bytes.Equal(got.Credentials, want.Credentials) {
		return state("credentials"), "credentials differ from the fold"
	}
	if !bytes.Equal(got.Settings, want.Settings) {
		return state("settings"), "settings differ from the fold"
	}
	if !slices.Equal(got.Packages, want.Packages) {
		return state("packages"), "packages differ from the fold"
	}
	if (got.Project == nil) != (want.Project == nil) || got.Project != nil && (got.Project.Name != want.Project.Name || !got.Project.Updated.Equal(want.Project.Updated)) {
		return state("project"), "active project differs from the fold"
	}
	for agg, rev := range want.Aggregates {
		if got.Aggregates[agg] != rev {
			return state("a:" + agg), fmt.Sprintf("%s is at revision %d, the fold at %d", agg, got.Aggregates[agg], rev)
		}
	}
	for _, k := range sortedKeys(want.Library, got.Library) {
		g, w := got.Library[k], want.Library[k]
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(gb, wb) {
			return keys.Library + " " + k, "library entry differs from the fold"
		}
	}
	return "", ""
}

func flowsBytes(f *domain.Flows) []byte {
	if f == nil {
		return nil
	}
	return f.Bytes()
}

func sortedKeys(maps ...map[string]domain.LibraryEntry) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
