package projector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

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
	// NodeIndexIncomplete is true when the node index does not cover the
	// log (it was written before flowhist kept one): not a fault, since
	// node history then scans the log, but flowhist replay builds it.
	NodeIndexIncomplete bool `json:"nodeIndexIncomplete,omitempty"`
	// ChainStart is the first revision that stores its link in the hash
	// chain: 1, or the revision after the anchor of a namespace written
	// before the chain (whose older entries are linked by the anchor).
	ChainStart domain.Revision `json:"chainStart"`
	// ChainHead is the link of the last revision verified.
	ChainHead string `json:"chainHead,omitempty"`
	// Checkpoints is how many expected links (signed checkpoints) were
	// checked; BadCheckpoint names the first that no longer matches.
	Checkpoints   int    `json:"checkpoints,omitempty"`
	BadCheckpoint string `json:"badCheckpoint,omitempty"`
}

// Expected is a link the log must still have at a revision: a signed
// checkpoint's, for verify to prove the log was not rewritten since.
type Expected struct {
	Revision domain.Revision
	Hash     string
	// Label names it in the report ("checkpoint 3 of prod at revision 12").
	Label string
}

// Options are Verify's optional parts.
type Options struct {
	// Progress is called with (done, total) after each page of events.
	Progress func(done, total domain.Revision)
	// Expect lists links the log must still have.
	Expect []Expected
}

// Verify folds ns's whole log, checking that revisions are gapless and every
// flows revision rebuilds to its recorded sha256, then compares the
// projected state and the node index with the fold. It writes nothing. A
// namespace that does not verify is reported in the Report, not as an
// error; the error is for failing to read.
func Verify(ctx context.Context, store *streams.Store, ns string) (Report, error) {
	return VerifyProgress(ctx, store, ns, nil)
}

// VerifyProgress is Verify calling progress(done, total) after each page of
// events, for operators' progress bars. It reads a page ahead while it
// folds the one before, and hashes a page's flows documents on every CPU.
func VerifyProgress(ctx context.Context, store *streams.Store, ns string, progress func(done, total domain.Revision)) (Report, error) {
	return verify(ctx, store, ns, Options{Progress: progress}, maxHeldNodes)
}

// VerifyWith is Verify with opts: it also checks that the log has, at each
// expected revision, the expected link (the chain is computed from the
// entries' bytes, so a log rewritten consistently or put back to an earlier
// state fails here while its own chain holds).
func VerifyWith(ctx context.Context, store *streams.Store, ns string, opts Options) (Report, error) {
	return verify(ctx, store, ns, opts, maxHeldNodes)
}

// verify is VerifyWith hashing whenever the documents waiting for their
// hash hold more than maxHeld nodes.
func verify(ctx context.Context, store *streams.Store, ns string, opts Options, maxHeld int) (Report, error) {
	progress := opts.Progress
	r := Report{Namespace: ns}
	head, err := store.Head(ctx, ns)
	if err != nil {
		return r, err
	}
	chain, err := store.ChainOf(ctx, ns)
	if err != nil {
		return r, err
	}
	r.ChainStart = chain.Start
	links := streams.NewChainCheck(chain)
	expect := expectationsOf(opts.Expect)
	fold := domain.NewState(ns)
	index := map[string][]domain.Revision{}
	pages := readAhead(ctx, store, ns, 1, replayPage)
	defer pages.stop()
	for {
		events, page, err := pages.nextLinked()
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
		var checks []flowsCheck
		var bad *domain.Event
		var problem error
		held := 0 // nodes of the documents in checks
		for i, e := range events {
			if held > maxHeld {
				// Each document waiting for its hash holds its node
				// list: hash what is held before folding more.
				if e, err := firstBadHash(checks); e != nil {
					r.BadRevision, r.Problem, r.Revisions = e.Revision, err.Error(), e.Revision-1
					return r, nil
				}
				checks, held = checks[:0], 0
			}
			if err := links.Next(page[i]); err != nil {
				bad, problem = e, err
				break
			}
			if err := expect.check(e.Revision, links.Link(), &r); err != nil {
				bad, problem = e, err
				break
			}
			if e.Revision != fold.Revision+1 {
				bad, problem = e, fmt.Errorf("revision %d is missing from the log", fold.Revision+1)
				break
			}
			if _, err := fold.ApplyUnhashed(e); err != nil {
				bad, problem = e, err
				break
			}
			if e.Aggregate == domain.AggregateFlows {
				checks = append(checks, flowsCheck{e, fold.Flows})
				held += fold.Flows.Len()
			}
			for _, id := range streams.IndexedNodes(e) {
				index[id] = append(index[id], e.Revision)
			}
		}
		// A document that does not hash to its record comes before a
		// later event that does not fold.
		if e, err := firstBadHash(checks); e != nil {
			r.BadRevision, r.Problem, r.Revisions = e.Revision, err.Error(), e.Revision-1
			return r, nil
		}
		if bad != nil {
			r.BadRevision, r.Problem, r.Revisions = fold.Revision+1, problem.Error(), fold.Revision
			return r, nil
		}
		if progress != nil {
			progress(fold.Revision, max(fold.Revision, head.Revision))
		}
	}
	r.Revisions, r.ChainHead = fold.Revision, links.Link()
	if err := expect.beyond(fold.Revision, &r); err != nil {
		r.BadRevision, r.Problem = fold.Revision+1, err.Error()
		return r, nil
	}
	if head, err = store.Head(ctx, ns); err != nil {
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
	if chain, err = store.ChainOf(ctx, ns); err != nil {
		return r, err
	}
	if err := links.End(chain); err != nil {
		r.BadRevision, r.Problem = fold.Revision, err.Error()
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
	complete, err := store.NodeIndexComplete(ctx, ns)
	if err != nil {
		return r, err
	}
	if !complete {
		r.OK, r.NodeIndexIncomplete = true, true
		return r, nil
	}
	key, problem, err := store.CheckNodeIndex(ctx, ns, index, fold.Revision)
	if err != nil {
		return r, err
	}
	if key != "" {
		r.BadKey, r.Problem = key, problem
		return r, nil
	}
	r.OK = true
	return r, nil
}

// maxHeldNodes bounds the nodes of the documents verify folds before it
// hashes them (about 90 bytes each): a page of a 200-node document, a
// hundred versions of a 2000-node one.
const maxHeldNodes = 200000

// flowsCheck is a flows event and the document the fold made of it.
type flowsCheck struct {
	e   *domain.Event
	doc *domain.Flows
}

// firstBadHash hashes the documents of checks on every CPU and returns the
// first event whose document does not hash to its record, nil if none.
func firstBadHash(checks []flowsCheck) (*domain.Event, error) {
	errs := make([]error, len(checks))
	workers := min(runtime.GOMAXPROCS(0), len(checks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(checks); i = int(next.Add(1)) - 1 {
				errs[i] = domain.CheckFlowsSHA256(checks[i].e, checks[i].doc)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return checks[i].e, err
		}
	}
	return nil, nil
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

// expectations are the links a verify must find, by revision.
type expectations map[domain.Revision][]Expected

func expectationsOf(list []Expected) expectations {
	m := expectations{}
	for _, x := range list {
		m[x.Revision] = append(m[x.Revision], x)
	}
	return m
}

// check compares the link computed at rev with what is expected there.
func (m expectations) check(rev domain.Revision, link string, r *Report) error {
	for _, x := range m[rev] {
		r.Checkpoints++
		if x.Hash != link {
			r.BadCheckpoint = x.Label
			return fmt.Errorf("%s no longer matches: it signed link %s at revision %d, the log has %s (the log was rewritten since)", x.Label, short(x.Hash), rev, short(link))
		}
	}
	return nil
}

// beyond fails for the first expectation past the end of the log, at.
func (m expectations) beyond(at domain.Revision, r *Report) error {
	var first *Expected
	for rev, xs := range m {
		if rev > at && (first == nil || rev < first.Revision) {
			first = &xs[0]
		}
	}
	if first == nil {
		return nil
	}
	r.BadCheckpoint = first.Label
	return fmt.Errorf("%s no longer matches: it signed revision %d, the log ends at %d (events were removed or the namespace was put back to an earlier state)", first.Label, first.Revision, at)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
