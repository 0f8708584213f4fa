package streams

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// SchemaVersion is the keyspace layout this version writes (see package
// migrations). The append script refuses a namespace recorded with a newer
// one, so an old binary never writes into a layout it does not understand.
//
// Version 2 adds the hash chain (chain.go).
const SchemaVersion = 2

// appendScript checks the idempotency key, the expected aggregate revision
// and the schema version, then adds the entry and updates meta, atomically.
//
// It also indexes the revision under every node the event's summary names
// (see nodeindex.go), so a node's history reads its own revisions only; a
// duplicate or a conflict returns before, so it indexes nothing.
//
// KEYS: meta, log, idempotency key (unused unless ARGV[4] == "1"), node
// registry, then one node index key per node id in ARGV[12…].
// ARGV: aggregate, expect ("any"|"exact"), expected revision, use idempotency,
// fingerprint, idempotency ttl (s), envelope, payload, payload encoding,
// schema version, patch bytes (flows only, else 0), the entry's digest
// (entryDigest: 32 bytes), then the node ids.
// Returns {"ok", "rev:arev:ms:snapRevs:snapBytes:link"}, {"dup", stored},
// {"conflict", current}, an ESCHEMA error (meta is newer) or an EMIGRATE one
// (meta is older: the namespace is not anchored in the chain yet).
//
// The entry's link (chain.go) is computed here, from the head link meta
// holds, so that appends racing on replicas cannot claim one predecessor.
var appendScript = newScript(sha256Lua + appendLua)

const appendLua = `
local meta, log, idem = KEYS[1], KEYS[2], KEYS[3]
if ARGV[4] == '1' then
  local prev = redis.call('GET', idem)
  if prev then
    -- A write of this connection's own, so that a WAIT after a retry
    -- waits for replication up to here: past the first append too.
    redis.call('EXPIRE', idem, ARGV[6])
    return {'dup', prev}
  end
end
local schema = redis.call('HGET', meta, 'schema')
if schema and tonumber(schema) > tonumber(ARGV[10]) then
  return redis.error_reply('ESCHEMA keyspace schema ' .. schema .. ' is newer than ' .. ARGV[10])
end
local head = redis.call('HMGET', meta, 'rev', 'h')
if (schema and tonumber(schema) < tonumber(ARGV[10])) or (not schema and head[1]) then
  return redis.error_reply('EMIGRATE keyspace schema ' .. (schema or 'none') .. ' is older than ' .. ARGV[10])
end
local field = 'a:' .. ARGV[1]
local cur = tonumber(redis.call('HGET', meta, field) or '0')
if ARGV[2] == 'exact' and cur ~= tonumber(ARGV[3]) then
  return {'conflict', string.format('%d', cur)}
end
local rev = tonumber(head[1] or '0') + 1
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('HGET', meta, 't') or '0')
if ms < last then ms = last end
local srev, arev, sms = string.format('%d', rev), string.format('%d', cur + 1), string.format('%d', ms)
local h = sha256hex('fh2' .. unhex(head[2]) .. ARGV[12] .. '|' .. srev .. '|' .. arev .. '|' .. sms)
redis.call('XADD', log, srev .. '-0', 'e', ARGV[7], 'a', ARGV[1], 'r', arev, 't', sms, 'p', ARGV[8], 'z', ARGV[9], 'h', h)
redis.call('HSET', meta, 'rev', srev, 't', sms, field, arev, 'h', h)
if not schema then redis.call('HSET', meta, 'schema', ARGV[10]) end
if rev == 1 then redis.call('HSET', meta, 'ix', '1') end
local nodes = #KEYS - 4
if nodes > 0 then
  for i = 1, nodes do redis.call('ZADD', KEYS[4 + i], rev, srev) end
  for i = 13, 12 + nodes, 4000 do
    redis.call('SADD', KEYS[4], unpack(ARGV, i, math.min(i + 3999, 12 + nodes)))
  end
end
local sr, sb = 0, 0
if ARGV[1] == 'flows' then
  sr = redis.call('HINCRBY', meta, 'snap:revs', 1)
  sb = redis.call('HINCRBY', meta, 'snap:bytes', tonumber(ARGV[11]))
end
local res = srev .. ':' .. arev .. ':' .. sms .. ':' .. sr .. ':' .. sb .. ':' .. h
if ARGV[4] == '1' then redis.call('SET', idem, res .. ':' .. ARGV[5], 'EX', ARGV[6]) end
return {'ok', res}
`

// appendScriptUnchained is appendScript without the link: what the chain
// costs is measured against it (chain_switch.go), nothing else runs it.
var appendScriptUnchained = newScript("local function sha256hex(s) return '' end\nlocal function unhex(h) return '' end\n" + appendLua)

// AppendRequest is one event to append.
type AppendRequest struct {
	// Event is the event to append; the store assigns ID, Revision,
	// AggregateRevision and Time.
	Event domain.Event
	// Expected is the aggregate revision the caller based the event on.
	Expected domain.Expected
	// IdempotencyKey, when set, makes a repeated append with the same key
	// within the TTL return the first result and append nothing.
	IdempotencyKey string
	// Fingerprint identifies the request behind an idempotency key; a key
	// reused for a different request is refused. Defaults to a hash of the
	// event's type, aggregate, sha256 and payload.
	Fingerprint string

	patchBytes int
	rollout    *rolloutWrite // with it, the rollout's state is stored in the same step (rollout.go)
}

// AppendResult is what an append achieved.
type AppendResult struct {
	Revision          domain.Revision `json:"revision"`
	AggregateRevision domain.Revision `json:"aggregateRevision"`
	EntryID           string          `json:"entryId"`
	Time              time.Time       `json:"time"`
	// Hash is the event's link in the namespace's hash chain (chain.go).
	Hash string `json:"hash,omitempty"`
	// Duplicate is true when an idempotency key returned an earlier result.
	Duplicate bool `json:"duplicate,omitempty"`
	// Durability is what was confirmed after the write, if anything was
	// asked for.
	Durability *DurabilityResult `json:"durability,omitempty"`

	snapRevs, snapBytes int64
	// eventID is the appended event's id ("" for a duplicate).
	eventID string
}

// DurabilityResult reports what WAIT / WAITAOF confirmed.
type DurabilityResult struct {
	Replicas    int  `json:"replicas"`    // replicas that acknowledged the write
	LocalAOF    bool `json:"aof"`         // fsynced to the primary's AOF
	ReplicasAOF int  `json:"replicasAof"` // replicas that fsynced it to their AOF
	Achieved    bool `json:"achieved"`    // everything asked for was confirmed
}

// envelope is what the log entry's "e" field stores: the event minus what
// the script assigns (revision, aggregate revision, time) and the payload.
type envelope struct {
	ID   string           `json:"id"`
	Type domain.EventType `json:"type"`
	domain.Provenance
	Schema int `json:"schema"`
}

// Append appends req.Event to its namespace's log. When durability is
// configured, the result's Durability says what Valkey confirmed.
//
// Errors: EINVALID (the event or the idempotency key is unusable, or the key
// was used for a different request), ECONFLICT (req.Expected is stale; the
// error carries the current revision), EUNAVAILABLE (Valkey unreachable,
// loading or read-only; or, with Durability.Required, the durability asked
// for was not confirmed: then the event was appended, the result says
// where, and only a retry with the same idempotency key is safe).
func (s *Store) Append(ctx context.Context, req AppendRequest) (AppendResult, error) {
	e := &req.Event
	if err := e.Validate(); err != nil {
		return AppendResult{}, err
	}
	if err := validateIdempotencyKey(req.IdempotencyKey); err != nil {
		return AppendResult{}, err
	}
	if err := s.register(ctx, e.Namespace); err != nil {
		return AppendResult{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return AppendResult{}, fmt.Errorf("streams: append %s: event id: %w", e.Namespace, err)
	}
	env, err := json.Marshal(envelope{ID: id.String(), Type: e.Type, Provenance: e.Provenance, Schema: e.Schema})
	if err != nil {
		return AppendResult{}, fmt.Errorf("streams: append %s: envelope: %w", e.Namespace, err)
	}
	payload, enc, err := s.encodePayload(e.Payload)
	if err != nil {
		return AppendResult{}, fmt.Errorf("streams: append %s: %w", e.Namespace, err)
	}
	if req.Fingerprint == "" {
		req.Fingerprint = domain.Fingerprint(string(e.Type), e.Aggregate, e.SHA256, string(e.Payload))
	}
	expect, expRev, useIdem := "any", "0", "0"
	if !req.Expected.IsAny() {
		expect, expRev = "exact", req.Expected.Revision().String()
	}
	if req.IdempotencyKey != "" {
		useIdem = "1"
	}
	nodes := IndexedNodes(e)
	keys := make([]string, 0, 4+len(nodes))
	keys = append(keys, metaKey(e.Namespace), logKey(e.Namespace), idemKey(e.Namespace, req.IdempotencyKey), nodesKey(e.Namespace))
	script, digest := appendScript, ""
	if !Chained(e.Namespace) {
		script = appendScriptUnchained
	} else {
		digest = string(entryDigest(e.Aggregate, string(env), enc, payload))
	}
	args := make([]string, 0, 12+len(nodes))
	args = append(args,
		e.Aggregate, expect, expRev, useIdem, req.Fingerprint,
		strconv.FormatInt(int64(s.cfg.IdempotencyTTL/time.Second), 10),
		string(env), payload, enc, strconv.Itoa(SchemaVersion), strconv.Itoa(req.patchBytes), digest,
	)
	for _, id := range nodes {
		keys = append(keys, nodeKey(e.Namespace, id))
		args = append(args, id)
	}

	script, keys, args = req.rollout.wrap(e.Namespace, script, keys, args)
	var res rueidis.RedisResult
	var dur *DurabilityResult
	d := s.durability()
	if d.Replicas > 0 || d.AOF {
		// WAIT and WAITAOF cover the writes of their own connection only.
		err = s.client.Dedicated(func(c rueidis.DedicatedClient) error {
			res = script.exec(ctx, c, keys, args)
			if res.Error() == nil {
				dur = wait(ctx, c, d)
			}
			return nil
		})
		if err != nil {
			return AppendResult{}, fmt.Errorf("streams: append %s: %w", e.Namespace, classify(err))
		}
	} else {
		res = script.exec(ctx, s.client, keys, args)
	}
	out, err := parseAppendReply(res, req, e.Aggregate)
	if err != nil {
		return AppendResult{}, fmt.Errorf("streams: append %s: %w", e.Namespace, err)
	}
	out.Durability = dur
	if !out.Duplicate {
		out.eventID = id.String()
	}
	if dur != nil && !dur.Achieved && d.Required {
		return out, &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf(
			"revision %d was written, but Valkey did not confirm %s within %s (streams.durability.required): it may be lost if Valkey fails over now; retrying with the same Idempotency-Key is safe",
			out.Revision, d, d.Timeout)}
	}
	return out, nil
}

func parseAppendReply(res rueidis.RedisResult, req AppendRequest, aggregate string) (AppendResult, error) {
	reply, err := res.AsStrSlice()
	if err != nil {
		return AppendResult{}, classify(err)
	}
	if len(reply) != 2 {
		return AppendResult{}, fmt.Errorf("unexpected append reply %q", reply)
	}
	switch reply[0] {
	case "conflict":
		return AppendResult{}, domain.ConflictError(aggregate, req.Expected, domain.Revision(parseUint(reply[1])))
	case "dup":
		parts := strings.Split(reply[1], ":")
		// Records written before the chain have no link: 6 parts.
		if len(parts) != 6 && len(parts) != 7 {
			return AppendResult{}, fmt.Errorf("unexpected idempotency record %q", reply[1])
		}
		if parts[len(parts)-1] != req.Fingerprint {
			return AppendResult{}, domain.Errorf(domain.EINVALID, "idempotency key %q was already used for a different request", req.IdempotencyKey)
		}
		out := resultFrom(parts)
		out.Duplicate = true
		return out, nil
	case "ok":
		parts := strings.Split(reply[1], ":")
		if len(parts) != 6 {
			return AppendResult{}, fmt.Errorf("unexpected append reply %q", reply[1])
		}
		return resultFrom(parts), nil
	}
	return AppendResult{}, fmt.Errorf("unexpected append reply %q", reply)
}

func resultFrom(parts []string) AppendResult {
	rev := parseUint(parts[0])
	link := ""
	if len(parts) == 7 || len(parts) == 6 && IsLink(parts[5]) {
		link = parts[5]
	}
	return AppendResult{
		Hash:              link,
		Revision:          domain.Revision(rev),
		AggregateRevision: domain.Revision(parseUint(parts[1])),
		EntryID:           entryID(rev),
		Time:              time.UnixMilli(int64(parseUint(parts[2]))).UTC(),
		snapRevs:          int64(parseUint(parts[3])),
		snapBytes:         int64(parseUint(parts[4])),
	}
}

// wait asks for durability d on c, the connection that wrote.
// A failed or timed-out wait is reported in the result, not as an error:
// the event is appended either way.
func wait(ctx context.Context, c rueidis.DedicatedClient, d Durability) *DurabilityResult {
	r := &DurabilityResult{}
	ms := d.Timeout.Milliseconds()
	if d.AOF {
		v, err := c.Do(ctx, c.B().Waitaof().Numlocal(1).Numreplicas(int64(d.Replicas)).Timeout(ms).Build()).AsIntSlice()
		if err == nil && len(v) == 2 {
			r.LocalAOF, r.ReplicasAOF, r.Replicas = v[0] >= 1, int(v[1]), int(v[1])
		}
		r.Achieved = r.LocalAOF && r.ReplicasAOF >= d.Replicas
		return r
	}
	n, err := c.Do(ctx, c.B().Wait().Numreplicas(int64(d.Replicas)).Timeout(ms).Build()).AsInt64()
	if err == nil {
		r.Replicas = int(n)
	}
	r.Achieved = r.Replicas >= d.Replicas
	return r
}

func (s *Store) encodePayload(p []byte) (string, string, error) {
	if len(p) <= s.cfg.CompressAbove {
		return string(p), "", nil
	}
	z, err := gzipBytes(p)
	if err != nil {
		return "", "", err
	}
	return string(z), "gz", nil
}

// gzipWriters keeps compressors between uses: a new one allocates about a
// megabyte of tables, which made every snapshot of a small document a
// garbage collection.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

func gzipBytes(p []byte) ([]byte, error) {
	var b bytes.Buffer
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&b)
	if _, err := w.Write(p); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// validateIdempotencyKey keeps keys printable and short: they become part of
// a Valkey key name.
func validateIdempotencyKey(k string) error {
	if len(k) > 200 {
		return domain.Errorf(domain.EINVALID, "idempotency key is longer than 200 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return domain.Errorf(domain.EINVALID, "idempotency key has a space, control or non-ASCII character at position %d", i)
		}
	}
	return nil
}
