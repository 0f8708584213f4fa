package streams

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
)

// Which rebuilt flows documents have been checked already. Every version
// FlowsAt and FlowsPair rebuild is checked against its recorded sha256,
// and for a 10 MB document those two hashes are most of a diff's work
// (about 6 ms each on a 2-core machine, against 3 ms for the fold and the
// comparison together). Browsing a history rebuilds the same revisions
// again and again, from the same snapshot and the same patches, and a
// fold is a pure function of what it starts from and what it applies: a
// version is named by a sha256 over the name of the snapshot blob it
// started from (a blob is checked against its name whenever it is read)
// and every flows payload folded since, as stored. The same name is the
// same bytes, however the fold was split (FlowsPair folds its later
// version from its earlier one), and a name whose bytes once hashed to the
// recorded sha256 needs no second hash. The name covers the stored
// payloads themselves, not the log's chain links: a payload changed in
// place is a new name, checked again.

// verifiedMax bounds the names kept: each is ~130 B.
const verifiedMax = 4096

// verifiedFolds are the names of versions whose bytes hashed to their
// recorded sha256, with that sha256.
var verifiedFolds = &verifiedSet{m: map[string]string{}}

type verifiedSet struct {
	mu    sync.Mutex
	m     map[string]string // name → recorded sha256
	order []string          // oldest first
}

func (v *verifiedSet) has(name, sha string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.m[name]
	return ok && got == sha
}

func (v *verifiedSet) add(name, sha string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[name]; ok {
		return
	}
	v.m[name] = sha
	v.order = append(v.order, name)
	if len(v.order) > verifiedMax {
		delete(v.m, v.order[0])
		v.order = v.order[1:]
	}
}

// foldName is the running name of a version (see above): nil where the
// version's origin is not known (it is then always hashed).
type foldName []byte

// snapshotName names a version read from the snapshot blob named sha.
func snapshotName(sha string) foldName { return newFoldName("snapshot " + sha) }

// emptyName names the empty document a namespace's first flows event is
// folded onto.
var emptyName = newFoldName("empty")

func newFoldName(base string) foldName {
	h := sha256.New()
	h.Write([]byte(base))
	b, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	return b
}

// resume returns a hash to go on naming from n, nil if n is nil.
func (n foldName) resume() hash.Hash {
	if n == nil {
		return nil
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(n); err != nil {
		return nil
	}
	return h
}

// foldPayload adds one stored flows payload (its bytes, encoding and
// schema: what decoding it reads) to h, length-prefixed so that no two
// sequences of payloads name alike.
func foldPayload(h hash.Hash, p, z string, schema int) {
	var n [24]byte
	binary.BigEndian.PutUint64(n[:8], uint64(len(p)))
	binary.BigEndian.PutUint64(n[8:16], uint64(len(z)))
	binary.BigEndian.PutUint64(n[16:], uint64(schema))
	h.Write(n[:])
	h.Write([]byte(p))
	h.Write([]byte(z))
}

// endFold is the name h has reached, to go on from, and its digest, the
// key of verifiedFolds.
func endFold(h hash.Hash) (foldName, string) {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, ""
	}
	return b, hex.EncodeToString(h.Sum(nil))
}
