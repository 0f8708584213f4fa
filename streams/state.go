package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// The projector's state of a namespace lives in two hashes: fh:{ns}:state
// (checkpoint, flows, credentials, settings, packages, project, each
// aggregate's revision as "a:<aggregate>", and "compat", the revision the
// old module's keys were last written at) and fh:{ns}:lib (library entries
// by aggregate name).

// stateScript applies the writes of the events from ARGV[1] to ARGV[2] if
// and only if the checkpoint is before ARGV[2] and not before ARGV[1]-1: a
// redelivered or replayed event is a no-op, two projectors racing on the
// same events write once, and a batch that another projector's checkpoint
// reached part of still writes (its values are those at ARGV[2]).
//
// KEYS: state, lib. ARGV: first revision, last revision, then triples op,
// field, value with op "S" (state field) or "L" (library entry).
// Returns 1 when applied, 0 when the last revision was applied already, or
// an EGAP error naming the checkpoint when an earlier revision is missing.
var stateScript = newScript(`
local from, rev = tonumber(ARGV[1]), tonumber(ARGV[2])
local cp = tonumber(redis.call('HGET', KEYS[1], 'checkpoint') or '0')
if cp >= rev then return 0 end
if cp < from - 1 then return redis.error_reply('EGAP checkpoint ' .. string.format('%d', cp)) end
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'S' then redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  else redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2]) end
end
redis.call('HSET', KEYS[1], 'checkpoint', ARGV[2])
return 1
`)

// projectJSON is the stored form of the active project.
type projectJSON struct {
	Name    string `json:"name"`
	Updated int64  `json:"updated"` // ms
}

// SaveState writes the parts of st that ch names, at st.Revision, if the
// stored checkpoint is the revision before it. It reports whether it wrote
// (false: that revision was projected already).
//
// Errors: EINTERNAL when the checkpoint is behind st.Revision-1 (the caller
// skipped an event), EUNAVAILABLE.
func (s *Store) SaveState(ctx context.Context, st *domain.State, ch domain.Change) (bool, error) {
	return s.SaveStates(ctx, st, st.Revision, []domain.Change{ch})
}

// SaveStates is SaveState for a run of events, from revision from to
// st.Revision, folded into st: it writes each part that any of their
// changes names once, with its value in st, in one round trip. It writes
// if the stored checkpoint is at least from-1 and before st.Revision.
//
// Errors: EINTERNAL when the checkpoint is behind from-1, EUNAVAILABLE.
func (s *Store) SaveStates(ctx context.Context, st *domain.State, from domain.Revision, changes []domain.Change) (bool, error) {
	ns := st.Namespace
	var all domain.Change
	var aggs, libs []string
	for _, ch := range changes {
		all.Flows, all.Credentials, all.Settings = all.Flows || ch.Flows, all.Credentials || ch.Credentials, all.Settings || ch.Settings
		all.Packages, all.Project = all.Packages || ch.Packages, all.Project || ch.Project
		if ch.Aggregate != "" {
			aggs = append(aggs, ch.Aggregate)
		}
		if ch.Library != "" {
			libs = append(libs, ch.Library)
		}
	}
	slices.Sort(aggs)
	slices.Sort(libs)
	args := []string{from.String(), st.Revision.String()}
	// The values go to Valkey without a copy (a flows document is often
	// megabytes): none of them is modified after it was built.
	set := func(op, field string, value []byte) { args = append(args, op, field, rueidis.BinaryString(value)) }
	for _, agg := range slices.Compact(aggs) {
		set("S", "a:"+agg, []byte(st.Aggregates[agg].String()))
	}
	if all.Flows {
		set("S", "flows", st.Flows.Bytes())
	}
	if all.Credentials {
		set("S", "credentials", st.Credentials)
	}
	if all.Settings {
		set("S", "settings", st.Settings)
	}
	if all.Packages {
		b, err := json.Marshal(st.Packages)
		if err != nil {
			return false, err
		}
		set("S", "packages", b)
	}
	if all.Project && st.Project != nil {
		b, _ := json.Marshal(projectJSON{Name: st.Project.Name, Updated: st.Project.Updated.UnixMilli()})
		set("S", "project", b)
	}
	for _, lib := range slices.Compact(libs) {
		b, err := domain.EncodePayload(st.Library[lib])
		if err != nil {
			return false, err
		}
		set("L", lib, b)
	}
	n, err := stateScript.exec(ctx, s.client, []string{stateKey(ns), libKey(ns)}, args).AsInt64()
	if err != nil {
		if isGap(err) {
			return false, fmt.Errorf("streams: save state of %s at %d: %v", ns, st.Revision, err)
		}
		return false, fmt.Errorf("streams: save state of %s at %d: %w", ns, st.Revision, classify(err))
	}
	return n == 1, nil
}

// StoredState is the projected state as stored, with the revision the old
// module's keys were written at.
type StoredState struct {
	*domain.State
	// CompatRevision is the revision compat keys were last written for.
	CompatRevision domain.Revision
}

// LoadState reads ns's projected state. A namespace never projected has
// revision 0 and is empty.
//
// Errors: EINTERNAL (a stored field does not parse), EUNAVAILABLE.
func (s *Store) LoadState(ctx context.Context, ns string) (*StoredState, error) {
	res := s.client.DoMulti(ctx,
		s.client.B().Hgetall().Key(stateKey(ns)).Build(),
		s.client.B().Hgetall().Key(libKey(ns)).Build())
	fields, err := res[0].AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("streams: load state of %s: %w", ns, classify(err))
	}
	lib, err := res[1].AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("streams: load state of %s: %w", ns, classify(err))
	}
	st := domain.NewState(ns)
	out := &StoredState{State: st}
	bad := func(field string, err error) error {
		return fmt.Errorf("streams: load state of %s: field %s: %w", ns, field, err)
	}
	for k, v := range fields {
		switch {
		case k == "checkpoint":
			st.Revision = domain.Revision(parseUint(v))
		case k == "compat":
			out.CompatRevision = domain.Revision(parseUint(v))
		case k == "flows":
			if st.Flows, err = domain.ParseFlows([]byte(v)); err != nil {
				return nil, bad(k, err)
			}
		case k == "credentials":
			st.Credentials = []byte(v)
		case k == "settings":
			st.Settings = []byte(v)
		case k == "packages":
			if err := json.Unmarshal([]byte(v), &st.Packages); err != nil {
				return nil, bad(k, err)
			}
		case k == "project":
			var p projectJSON
			if err := json.Unmarshal([]byte(v), &p); err != nil {
				return nil, bad(k, err)
			}
			st.Project = &domain.Project{Name: p.Name, Updated: time.UnixMilli(p.Updated).UTC()}
		case strings.HasPrefix(k, "a:"):
			st.Aggregates[k[2:]] = domain.Revision(parseUint(v))
		}
	}
	for k, v := range lib {
		var e domain.LibraryEntry
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			return nil, bad("library "+k, err)
		}
		st.Library[k] = e
	}
	return out, nil
}

// ResetState deletes ns's projected state, so that the next catch-up
// rebuilds it from revision 1.
//
// Errors: EUNAVAILABLE.
func (s *Store) ResetState(ctx context.Context, ns string) error {
	err := s.client.Do(ctx, s.client.B().Del().Key(stateKey(ns), libKey(ns)).Build()).Error()
	if err != nil {
		return fmt.Errorf("streams: reset state of %s: %w", ns, classify(err))
	}
	return nil
}
