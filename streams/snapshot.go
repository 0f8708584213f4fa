package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// The blob store holds gzip-compressed documents under their sha256
// (fh:{ns}:blob:<sha>), so a document that comes back — a rollback, a
// revert — is stored once. Snapshots are entries of the sorted set
// fh:{ns}:snaps scored by the namespace revision of the flows event they
// capture; the member is "<rev>:<arev>:<flows sha>:<credentials sha or ->".

// snapshotScript records a snapshot and takes what it covers off the
// counters that decide when the next one is due, unless the log no longer
// holds the event the snapshot captures: written after the deploy was
// answered, it may come after Valkey lost that deploy (a restart from an
// older file, a failover), and a later event that took the lost one's
// revision would be answered with the lost document.
//
// KEYS: snaps, meta, flows blob, credentials blob (or the flows blob
// again), log. ARGV: rev, member, flows gz, credentials gz (or ""), revs
// covered, bytes covered, the captured event's entry id and event id.
// Returns 1, or 0 when the log does not hold that event.
var snapshotScript = newScript(luaPositions + `
if not holds(KEYS[5], ARGV[7], ARGV[8]) then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'NX')
if ARGV[4] ~= '' then redis.call('SET', KEYS[4], ARGV[4], 'NX') end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], 'snap:revs', -tonumber(ARGV[5]))
redis.call('HINCRBY', KEYS[2], 'snap:bytes', -tonumber(ARGV[6]))
return 1
`)

// errSnapshotLost is saveSnapshot's error when the log no longer holds the
// event the snapshot captures.
var errSnapshotLost = errors.New("the log no longer holds the event it captures (Valkey lost the write); not written")

// saveSnapshot stores v, the flows after event (its id), as the snapshot
// at its revision.
func (s *Store) saveSnapshot(ctx context.Context, ns string, v *FlowsVersion, event string, revs, bytes int64) error {
	flowsSHA := v.Flows.SHA256()
	fz, err := gzipBytes(v.Flows.Bytes())
	if err != nil {
		return err
	}
	credSHA, cz := "-", ""
	credKey := blobKey(ns, flowsSHA)
	if v.Credentials != nil {
		credSHA = domain.SHA256Hex(v.Credentials)
		credKey = blobKey(ns, credSHA)
		z, err := gzipBytes(v.Credentials)
		if err != nil {
			return err
		}
		cz = string(z)
	}
	member := fmt.Sprintf("%d:%d:%s:%s", v.Revision, v.AggregateRevision, flowsSHA, credSHA)
	n, err := snapshotScript.exec(ctx, s.client,
		[]string{snapsKey(ns), metaKey(ns), blobKey(ns, flowsSHA), credKey, logKey(ns)},
		[]string{v.Revision.String(), member, string(fz), cz, fmt.Sprint(revs), fmt.Sprint(bytes), entryID(uint64(v.Revision)), event}).AsInt64()
	if err != nil {
		return fmt.Errorf("streams: snapshot %s at %d: %w", ns, v.Revision, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("streams: snapshot %s at %d: %w", ns, v.Revision, errSnapshotLost)
	}
	return nil
}

// loadSnapshot returns the newest snapshot at or before rev, or an empty
// version at revision 0 when there is none.
func (s *Store) loadSnapshot(ctx context.Context, ns string, rev domain.Revision) (*FlowsVersion, error) {
	members, err := s.client.Do(ctx, s.client.B().Zrange().Key(snapsKey(ns)).Min(rev.String()).Max("-inf").
		Byscore().Rev().Limit(0, 1).Build()).AsStrSlice()
	if err != nil {
		return nil, classify(err)
	}
	if len(members) == 0 {
		return &FlowsVersion{name: emptyName}, nil
	}
	parts := strings.Split(members[0], ":")
	if len(parts) != 4 {
		return nil, corrupt(ns, "snapshot %q is malformed", members[0])
	}
	v := &FlowsVersion{
		Revision:          domain.Revision(parseUint(parts[0])),
		AggregateRevision: domain.Revision(parseUint(parts[1])),
	}
	if hook, ok := snapshotListedHooks.Load(ns); ok {
		hook.(func())()
	}
	doc, err := s.blob(ctx, ns, parts[2])
	if rueidis.IsRedisNil(err) {
		err = s.missingBlob(ctx, ns, members[0], parts[2])
	}
	if err != nil {
		return nil, err
	}
	if v.Flows, err = domain.ParseFlows(doc); err != nil {
		return nil, corrupt(ns, "snapshot at %d: %v", v.Revision, err)
	}
	v.name = snapshotName(parts[2])
	if parts[3] != "-" {
		v.Credentials, err = s.blob(ctx, ns, parts[3])
		if rueidis.IsRedisNil(err) {
			err = s.missingBlob(ctx, ns, members[0], parts[3])
		}
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// blob returns the document stored under sha, checking it still hashes to
// its name; a missing blob is rueidis's nil error, for missingBlob to judge.
func (s *Store) blob(ctx context.Context, ns, sha string) ([]byte, error) {
	z, err := s.client.Do(ctx, s.client.B().Get().Key(blobKey(ns, sha)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, err
	}
	if err != nil {
		return nil, classify(err)
	}
	doc, err := gunzip(z)
	if err != nil {
		return nil, corrupt(ns, "blob %s: %v", sha, err)
	}
	if got := domain.SHA256Hex(doc); got != sha {
		return nil, corrupt(ns, "blob %s hashes to %s", sha, got)
	}
	return doc, nil
}

// snapshotBlobScript answers, in one look at one node, whether the snapshot
// member is still listed and whether its blob exists.
//
// KEYS: snaps, blob. ARGV: member.
var snapshotBlobScript = newScript(`
return {redis.call('ZSCORE', KEYS[1], ARGV[1]) and 1 or 0, redis.call('EXISTS', KEYS[2])}
`)

// missingBlob judges a blob GET that found nothing after the snapshot list
// named it. The list and the blob were read by two commands, which a
// failover can send to two nodes (or to a demoted primary, then its
// successor): a snapshot written on the old primary after the new one was
// elected is lost with its blob, yet the first read saw it. So both are
// looked at again, atomically: a snapshot still listed whose blob is
// missing is corruption; one gone since (or a blob there now) is the
// failover's window, EUNAVAILABLE, and the caller retries.
func (s *Store) missingBlob(ctx context.Context, ns, member, sha string) error {
	got, err := snapshotBlobScript.exec(ctx, s.client, []string{snapsKey(ns), blobKey(ns, sha)}, []string{member}).AsIntSlice()
	if err != nil {
		return classify(err)
	}
	if len(got) == 2 && got[0] == 1 && got[1] == 0 {
		return corrupt(ns, "blob %s is missing", sha)
	}
	return domain.Errorf(domain.EUNAVAILABLE, "namespace %s: snapshot %s changed while it was read (a Valkey failover?): retry", ns, member)
}

// snapshotListedHooks holds, per namespace, a function loadSnapshot calls
// between listing the snapshot and reading its blob: set only by tests
// (export_test.go), to play a failover in that window.
var snapshotListedHooks sync.Map
