package streams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// The hash chain.
//
// Every log entry stores, in its field "h", the link
//
//	h(n) = hex(sha256("fh2" + bytes(h(n-1)) + digest(n) + "|" + rev + "|" + r + "|" + t))
//
// where bytes(h) is the 32 bytes a link's hex spells, digest(n) is the 32
// byte sha256 of the entry's other stored fields (aggregate, envelope,
// payload encoding and payload as stored, each prefixed by its length; see
// entryDigest), rev is the revision of the entry's id, and r and t are the
// entry's aggregate revision and time fields exactly as stored. h(0) is
// ZeroHash. The namespace's meta hash keeps the head's link in "h". The
// message fits two SHA-256 blocks, which is what the script's Lua pays for.
//
// The digest is computed by the appender in Go (it covers the payload,
// up to megabytes, which Lua would hash a thousand times slower); the link
// is computed inside the append script, from the predecessor's link that
// the script reads from meta in the same atomic step that adds the entry:
// so no two entries can claim the same predecessor, whatever replicas or
// retries race. Valkey's Lua offers only sha1 (redis.sha1hex), so the
// script carries a SHA-256 of its own (sha256Lua) for the ~170 bytes of a
// link.
//
// A namespace written before the chain existed is anchored by migration
// (Anchor): its existing entries are linked the same way, computed rather
// than stored, and meta records where stored links start ("chain") and the
// link that covers the entries before it ("anchor").

// ZeroHash is the predecessor of a namespace's first link.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// entryDigest returns the sha256 of a log entry's stored aggregate,
// envelope, payload encoding and payload, each prefixed by its length so
// that no two entries share the bytes hashed.
func entryDigest(aggregate, envelope, encoding, payload string) []byte {
	h := sha256Pool.Get().(hash.Hash)
	defer sha256Pool.Put(h)
	h.Reset()
	var buf [24]byte
	for _, f := range [...]string{aggregate, envelope, encoding, payload} {
		b := strconv.AppendInt(buf[:0], int64(len(f)), 10)
		b = append(b, ':')
		h.Write(b)
		h.Write([]byte(f))
	}
	return h.Sum(make([]byte, 0, sha256.Size))
}

var sha256Pool = sync.Pool{New: func() any { return sha256.New() }}

// linkHash is the link of an entry whose predecessor's link is prev; rev,
// arev and t are the entry's id revision, "r" and "t" as stored, digest
// its entryDigest.
func linkHash(prev, rev, arev, t string, digest []byte) string {
	sum := sha256.Sum256([]byte("fh2" + string(unhex(prev)) + string(digest) + "|" + rev + "|" + arev + "|" + t))
	return hex.EncodeToString(sum[:])
}

// unhex is the 32 bytes a link spells; anything that is not a link (a
// missing or damaged head in meta) counts as ZeroHash, as in the script.
func unhex(link string) []byte {
	b, err := hex.DecodeString(link)
	if err != nil || len(b) != sha256.Size {
		return make([]byte, sha256.Size)
	}
	return b
}

// sha256Lua defines sha256hex(s) and unhex(link) (a link's 32 bytes, zeros
// for anything else) for the append script. It needs the bit library every
// Valkey build loads.
const sha256Lua = `
local band, bor, bxor, bnot, rshift, lshift, ror, tobit, tohex = bit.band, bit.bor, bit.bxor, bit.bnot, bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex
local K = {
0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2}
local function sha256hex(msg)
  local n = #msg
  local bits = n * 8
  msg = msg .. '\128' .. string.rep('\0', (55 - n) % 64) .. '\0\0\0\0' ..
    string.char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255), band(bits, 255))
  local H = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
  local w = {}
  for i = 1, #msg, 64 do
    for j = 0, 15 do
      local b1, b2, b3, b4 = string.byte(msg, i + j * 4, i + j * 4 + 3)
      w[j] = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
    end
    for j = 16, 63 do
      local v, u = w[j - 15], w[j - 2]
      w[j] = tobit(w[j - 16] + bxor(ror(v, 7), ror(v, 18), rshift(v, 3)) + w[j - 7] + bxor(ror(u, 17), ror(u, 19), rshift(u, 10)))
    end
    local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
    for j = 0, 63 do
      local t1 = h + bxor(ror(e, 6), ror(e, 11), ror(e, 25)) + bxor(band(e, f), band(bnot(e), g)) + K[j + 1] + w[j]
      local t2 = bxor(ror(a, 2), ror(a, 13), ror(a, 22)) + bxor(band(a, b), band(a, c), band(b, c))
      h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
    end
    H[1], H[2], H[3], H[4] = tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d)
    H[5], H[6], H[7], H[8] = tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)
  end
  local out = {}
  for i = 1, 8 do out[i] = tohex(H[i], 8) end
  return table.concat(out)
end
local function unhex(h)
  if type(h) ~= 'string' or #h ~= 64 or string.find(h, '[^0-9a-f]') then return string.rep('\0', 32) end
  return (string.gsub(h, '..', function(c) return string.char(tonumber(c, 16)) end))
end
`

// Link is one log entry's place in its namespace's chain: the link it
// stores and what its link must be computed from.
type Link struct {
	Revision domain.Revision
	// Stored is the entry's "h" field, "" for an entry from before the
	// chain.
	Stored string
	rev    string
	arev   string
	t      string
	digest []byte
}

// After returns the link the entry must store when its predecessor's link
// is prev.
func (l Link) After(prev string) string { return linkHash(prev, l.rev, l.arev, l.t, l.digest) }

// linkOf computes en's link inputs from its fields as stored.
func linkOf(rev uint64, en rueidis.XRangeEntry) Link {
	f := en.FieldValues
	return Link{
		Revision: domain.Revision(rev), Stored: f["h"],
		rev: formatUint(rev), arev: f["r"], t: f["t"],
		digest: entryDigest(f["a"], f["e"], f["z"], f["p"]),
	}
}

// Chain is what a namespace's meta records about its hash chain.
type Chain struct {
	// Start is the first revision whose entry stores its link: 1 for a
	// namespace created with the chain, the revision after the anchor for
	// one written before it.
	Start domain.Revision `json:"start"`
	// Anchor is the link covering the entries before Start (computed by
	// the migration that anchored the namespace); ZeroHash when Start is 1.
	Anchor string `json:"anchor"`
	// Revision and Head are meta's head revision and its link.
	Revision domain.Revision `json:"revision"`
	Head     string          `json:"head"`
}

// ChainOf returns what ns's meta records about its chain. A namespace
// without a log has Start 1 and Head ZeroHash.
//
// Errors: EUNAVAILABLE.
func (s *Store) ChainOf(ctx context.Context, ns string) (Chain, error) {
	v, err := s.client.Do(ctx, s.client.B().Hmget().Key(metaKey(ns)).Field("rev", "h", "chain", "anchor").Build()).ToArray()
	if err != nil {
		return Chain{}, fmt.Errorf("streams: chain of %s: %w", ns, classify(err))
	}
	str := func(i int) string {
		if i >= len(v) {
			return ""
		}
		x, _ := v[i].ToString()
		return x
	}
	c := Chain{Revision: domain.Revision(parseUint(str(0))), Head: str(1), Start: domain.Revision(parseUint(str(2))), Anchor: str(3)}
	if c.Start == 0 {
		c.Start = 1
	}
	if c.Anchor == "" {
		c.Anchor = ZeroHash
	}
	if c.Head == "" && c.Revision == 0 {
		c.Head = ZeroHash
	}
	return c, nil
}

// ChainCheck follows a namespace's chain entry by entry, from its first
// revision or from an entry whose link is known.
type ChainCheck struct {
	chain Chain
	next  domain.Revision
	prev  string // the link of revision next-1, "" when not known yet
}

// NewChainCheck returns a check of c's chain from revision 1.
func NewChainCheck(c Chain) *ChainCheck { return &ChainCheck{chain: c, next: 1, prev: ZeroHash} }

// ResumeChainCheck returns a check of c's chain from the entry after at,
// whose link is atLink (as stored; "" before the chain's start, when the
// links up to the start are taken as the anchor says).
func ResumeChainCheck(c Chain, at domain.Revision, atLink string) *ChainCheck {
	return &ChainCheck{chain: c, next: at + 1, prev: atLink}
}

// Next checks the next entry's link; the error names the revision and what
// is wrong. After an error the check is over.
func (c *ChainCheck) Next(l Link) error {
	if l.Revision != c.next {
		if l.Revision > c.next {
			return fmt.Errorf("revision %d: the chain breaks: revision %d is missing from the log", c.next, c.next)
		}
		return fmt.Errorf("revision %d: the chain breaks: the entry appears again after revision %d", l.Revision, c.next-1)
	}
	if c.next == c.chain.Start && c.prev != c.chain.Anchor && c.prev != "" {
		return fmt.Errorf("revision %d: the chain breaks: the entries before it link to %s, the anchor recorded at migration is %s", l.Revision, short(c.prev), short(c.chain.Anchor))
	}
	if c.next == c.chain.Start && c.prev == "" {
		c.prev = c.chain.Anchor
	}
	if l.Revision < c.chain.Start {
		if l.Stored != "" {
			return fmt.Errorf("revision %d: the chain breaks: the entry stores a link but the chain starts at revision %d", l.Revision, c.chain.Start)
		}
		if c.prev != "" {
			c.prev = l.After(c.prev)
		}
		c.next++
		return nil
	}
	if l.Stored == "" {
		return fmt.Errorf("revision %d: the chain breaks: the entry stores no link", l.Revision)
	}
	if c.prev != "" {
		if want := l.After(c.prev); l.Stored != want {
			return fmt.Errorf("revision %d: the chain breaks: the entry's bytes or its predecessor are not what was appended (its link is %s, its content and predecessor give %s)", l.Revision, short(l.Stored), short(want))
		}
	}
	c.prev = l.Stored
	c.next++
	return nil
}

// Revision is the last revision checked.
func (c *ChainCheck) Revision() domain.Revision { return c.next - 1 }

// Link is the link of the last revision checked.
func (c *ChainCheck) Link() string { return c.prev }

// End checks that the entries read reach the head that meta records now
// (head, read after the last entry), with its link.
func (c *ChainCheck) End(head Chain) error {
	if c.Revision() != head.Revision {
		return fmt.Errorf("revision %d: the chain breaks: meta says the log reaches revision %d, it ends at %d", c.Revision()+1, head.Revision, c.Revision())
	}
	if c.prev != "" && head.Revision > 0 && c.prev != head.Head {
		return fmt.Errorf("revision %d: the chain breaks: meta's head link is %s, the log's is %s", c.Revision(), short(head.Head), short(c.prev))
	}
	return nil
}

// short is the first 12 hex digits of a link, for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// ReadLinked returns up to limit events of ns from revision from on, with
// their links, for checking the chain as the events are folded.
//
// Errors: EUNAVAILABLE, ECORRUPT (an entry that does not decode).
func (s *Store) ReadLinked(ctx context.Context, ns string, from domain.Revision, limit int) ([]*domain.Event, []Link, error) {
	start := "-"
	if from > 0 {
		start = entryID(uint64(from))
	}
	entries, err := s.client.Do(ctx, s.client.B().Xrange().Key(logKey(ns)).Start(start).End("+").Count(int64(limit)).Build()).AsXRange()
	if err != nil {
		return nil, nil, fmt.Errorf("streams: read %s: %w", ns, classify(err))
	}
	links, err := linksOf(ns, entries)
	if err != nil {
		return nil, nil, err
	}
	events, err := decodeEntries(ns, entries)
	return events, links, err
}

func linksOf(ns string, entries []rueidis.XRangeEntry) ([]Link, error) {
	links := make([]Link, len(entries))
	for i, en := range entries {
		rev, ok := revisionOf(en.ID)
		if !ok {
			return nil, corrupt(ns, "log entry %s is not a revision", en.ID)
		}
		links[i] = linkOf(rev, en)
	}
	return links, nil
}

// IsLink reports whether s has the form of a link: 64 lower-case hex digits.
func IsLink(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// anchorScript records the anchor of a namespace written before the chain:
// the link covering its entries up to ARGV[1], provided the log has not
// moved since they were read and no link is recorded yet.
//
// KEYS: meta. ARGV: revision linked, its link, schema version.
// Returns "anchored", "moved" (an append came between: read again) or
// "chained" (meta has a head link already: nothing to do).
var anchorScript = newScript(`
local cur = redis.call('HMGET', KEYS[1], 'rev', 'h')
if cur[2] then return 'chained' end
if tonumber(cur[1] or '0') ~= tonumber(ARGV[1]) then return 'moved' end
redis.call('HSET', KEYS[1], 'schema', ARGV[3])
if ARGV[1] ~= '0' then
  redis.call('HSET', KEYS[1], 'chain', string.format('%d', tonumber(ARGV[1]) + 1), 'anchor', ARGV[2], 'h', ARGV[2])
end
return 'anchored'
`)

// Anchor links ns's existing log, written before the chain, and records in
// its meta the link covering it and the revision stored links start from,
// setting its schema version to SchemaVersion. A namespace whose meta has a
// head link already is left as it is. It returns the chain as recorded.
//
// Errors: EUNAVAILABLE, ECORRUPT (an entry that is not a revision).
func (s *Store) Anchor(ctx context.Context, ns string) (Chain, error) {
	for range 10 {
		chain, err := s.ChainOf(ctx, ns)
		if err != nil {
			return Chain{}, err
		}
		link, at := ZeroHash, domain.Revision(0)
		for {
			_, links, err := s.ReadLinked(ctx, ns, at+1, 1000)
			if err != nil {
				return Chain{}, err
			}
			if len(links) == 0 {
				break
			}
			for _, l := range links {
				link, at = l.After(link), l.Revision
			}
		}
		if at != chain.Revision {
			continue // an append or a damaged log: read again, then refuse
		}
		v, err := anchorScript.exec(ctx, s.client, []string{metaKey(ns)}, []string{formatUint(uint64(at)), link, strconv.Itoa(SchemaVersion)}).ToString()
		if err != nil {
			return Chain{}, fmt.Errorf("streams: anchor %s: %w", ns, classify(err))
		}
		if v != "moved" {
			return s.ChainOf(ctx, ns)
		}
	}
	return Chain{}, corrupt(ns, "the log and its meta disagree on the head revision: run flowhist verify before anchoring its chain")
}
