package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// History answers the auditor's questions: who changed what, when, and
// how. No answer here carries credentials (they show as changed, with the
// ciphertext's hash) or settings secrets.

func newEntry(e *domain.Event) HistoryEntry {
	h := HistoryEntry{
		Revision: e.Revision, Time: e.Time, Type: e.Type, Aggregate: e.Aggregate, AggregateRevision: e.AggregateRevision,
		Provenance: e.Provenance,
	}
	if e.Aggregate == domain.AggregateFlows {
		if creds := domain.CredentialsOf(e); creds != nil {
			h.Credentials = &CredentialsRef{Changed: true, SHA256: domain.SHA256Hex(creds)}
		}
	}
	return h
}

// historyFilter is a history query's filters.
type historyFilter struct {
	kinds                []func(*domain.Event) bool
	actor, node, project string
	since, until         time.Time
}

// getHistoryKinds answers the names the kind filter takes, in the order
// the editor offers them.
func (s *Server) getHistoryKinds(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, HistoryKinds{Kinds: domain.HistoryKinds()})
	return nil
}

func parseHistoryFilter(r *http.Request) (historyFilter, error) {
	q := r.URL.Query()
	f := historyFilter{actor: q.Get("actor"), node: q.Get("node"), project: q.Get("project")}
	if k := q.Get("kind"); k != "" {
		for _, name := range strings.Split(k, ",") {
			kind, err := domain.ParseHistoryKind(strings.TrimSpace(name))
			if err != nil {
				return f, err
			}
			f.kinds = append(f.kinds, kind.Match)
		}
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.since}, {"until", &f.until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, domain.Errorf(domain.EINVALID, "%s %q is not an RFC 3339 time such as 2026-11-25T03:00:00Z", p.name, clip(v))
			}
			*p.to = t
		}
	}
	if !f.since.IsZero() && !f.until.IsZero() && f.until.Before(f.since) {
		return f, domain.Errorf(domain.EINVALID, "until is before since")
	}
	return f, nil
}

func (f historyFilter) match(e *domain.Event) bool {
	if f.actor != "" && e.Actor.User != f.actor {
		return false
	}
	if f.project != "" && e.Project != f.project {
		return false
	}
	if f.node != "" && !summaryNames(e.Summary, f.node) {
		return false
	}
	if len(f.kinds) == 0 {
		return true
	}
	for _, k := range f.kinds {
		if k(e) {
			return true
		}
	}
	return false
}

func summaryNames(s *domain.Summary, id string) bool {
	if s == nil {
		return false
	}
	for _, refs := range [][]domain.NodeRef{s.Added, s.Changed, s.Removed} {
		for _, n := range refs {
			if n.ID == id {
				return true
			}
		}
	}
	return false
}

// pageParams reads limit (default 50, at most 500) and cursor (the
// revision to continue below; empty: from the newest).
func pageParams(r *http.Request) (limit int, cursor domain.Revision, err error) {
	q := r.URL.Query()
	limit = 50
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 500 {
			return 0, 0, domain.Errorf(domain.EINVALID, "limit %q is not a number from 1 to 500", clip(v))
		}
	}
	if v := q.Get("cursor"); v != "" {
		if cursor, err = domain.ParseRevision(v); err != nil || cursor == 0 {
			return 0, 0, domain.Errorf(domain.EINVALID, "cursor %q is not one this API returned", clip(v))
		}
	}
	return limit, cursor, nil
}

// maxScan bounds the events one history request reads when filters skip
// most of them; the answer's nextCursor continues where it stopped.
const maxScan = 5000

// getHistory answers the namespace's events, newest first, filtered, a page
// at a time: {"entries": [...], "nextCursor": "<rev>"} while there are more.
func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("ns")
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	f, err := parseHistoryFilter(r)
	if err != nil {
		return err
	}
	entries := []*domain.Event{}
	next := domain.Revision(0)
	to := domain.Revision(0) // 0: the newest
	if cursor > 0 {
		to = cursor - 1
		if to == 0 {
			writeJSON(w, http.StatusOK, History{Entries: []HistoryEntry{}})
			return nil
		}
	}
	batch := min(max(limit*2, 64), 1000)
	for scanned := 0; ; {
		events, err := s.store.Read(r.Context(), ns, streams.Query{To: to, Since: f.since, Until: f.until, Backward: true, Limit: batch})
		if err != nil {
			return err
		}
		for _, e := range events {
			scanned++
			if f.match(e) {
				entries = append(entries, e)
				if len(entries) == limit {
					if e.Revision > 1 {
						next = e.Revision
					}
					break
				}
			}
		}
		if len(entries) == limit || len(events) < batch {
			break
		}
		to = events[len(events)-1].Revision - 1
		if to == 0 {
			break
		}
		if scanned >= maxScan {
			next = to + 1
			break
		}
	}
	return writeHistory(w, ns, entries, next)
}

// writeHistory answers {"entries": [...], "nextCursor": "<rev>"} byte for
// byte as writeJSON(History{…}) would, with each big event's entry encoded
// once (bigEntries) and written as it is kept, not copied into the answer.
func writeHistory(w http.ResponseWriter, ns string, events []*domain.Event, next domain.Revision) error {
	parts := make([][]byte, len(events))
	size := 0
	for i, e := range events {
		key := ""
		if isBigEntry(e) {
			key = ns + " " + e.Revision.String() + " " + e.Hash
			if v, ok := bigEntries.Get(key); ok {
				parts[i], size = v, size+len(v)+1
				continue
			}
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(newEntry(e)); err != nil {
			return err
		}
		parts[i] = bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
		size += len(parts[i]) + 1
		if key != "" {
			bigEntries.Put(key, parts[i], len(parts[i]))
		}
	}
	tail := "]}\n"
	if next > 0 {
		tail = `],"nextCursor":"` + next.String() + "\"}\n"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(`{"entries":[`)+max(size-1, 0)+len(tail)))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(`{"entries":[`)
	for i, p := range parts {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(p)
	}
	bw.WriteString(tail)
	bw.Flush()
	return nil
}

// bigEntries keeps the encoded history entries of big events: a 10 MB
// document's whole-document deploy has a summary naming every node (1.4 MB
// of entry), and finding whether it set credentials scans its payload.
// An entry is immutable under its namespace, revision and chain link.
var bigEntries = streams.NewBigCache[[]byte](24 << 20)

// isBigEntry reports whether e's entry is worth keeping encoded: a chained
// event with a big payload or a summary naming many nodes.
func isBigEntry(e *domain.Event) bool {
	if !streams.IsLink(e.Hash) {
		return false
	}
	if len(e.Payload) >= 64<<10 {
		return true
	}
	s := e.Summary
	return s != nil && len(s.Added)+len(s.Changed)+len(s.Removed) >= 256
}

// revisionParam reads the {rev} path value.
func revisionParam(r *http.Request, name string) (domain.Revision, error) {
	rev, err := domain.ParseRevision(r.PathValue(name))
	if err != nil || rev == 0 {
		return 0, domain.Errorf(domain.EINVALID, "revision %q is not a positive whole number", clip(r.PathValue(name)))
	}
	return rev, nil
}

// getRevision answers one event, with its payload for settings (secrets
// redacted), library, packages and project events.
func (s *Server) getRevision(w http.ResponseWriter, r *http.Request) error {
	rev, err := revisionParam(r, "rev")
	if err != nil {
		return err
	}
	e, err := s.store.ReadRevision(r.Context(), r.PathValue("ns"), rev)
	if err != nil {
		return err
	}
	h := newEntry(e)
	switch e.Type {
	case domain.SettingsSaved:
		var p domain.SettingsPayload
		if err := domain.DecodePayload(e, &p); err != nil {
			return err
		}
		b, err := json.Marshal(map[string]any{"settings": domain.Redact(p.Settings)})
		if err != nil {
			return err
		}
		h.Payload = b
	case domain.LibrarySaved, domain.PackagesChanged, domain.ProjectActivated:
		// Raw: a library entry's meta may hold numbers beyond float64.
		var p json.RawMessage
		if err := domain.DecodePayload(e, &p); err != nil {
			return err
		}
		h.Payload = p
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// getRevisionFlows answers the flows document as it was at a revision, byte
// for byte.
func (s *Server) getRevisionFlows(w http.ResponseWriter, r *http.Request) error {
	rev, err := revisionParam(r, "rev")
	if err != nil {
		return err
	}
	v, err := s.store.FlowsAt(r.Context(), r.PathValue("ns"), rev)
	if err != nil {
		return err
	}
	doc := v.Flows.Bytes()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(v.AggregateRevision))
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.Write(doc)
	return nil
}
