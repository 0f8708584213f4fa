package domain

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
)

// midEvery is the spacing of the hash states a whole document keeps
// (Flows.mids): an edit of it is hashed from the last state before its
// first difference, not from its first byte.
const midEvery = 64 << 10

// docHash is a document's sha256 and its hash states after every
// midEvery bytes.
type docHash struct {
	sum  string
	mids [][]byte
}

// hashDoc hashes doc, whose first same bytes are those of a document whose
// states are mids: it resumes from the last state they share.
func hashDoc(doc []byte, mids [][]byte, same int) docHash {
	h := sha256.New()
	k := min(same/midEvery, len(mids))
	out := make([][]byte, 0, len(doc)/midEvery)
	from := 0
	if k > 0 && h.(encoding.BinaryUnmarshaler).UnmarshalBinary(mids[k-1]) == nil {
		out, from = append(out, mids[:k]...), k*midEvery
	} else {
		h.Reset()
	}
	for ; from+midEvery <= len(doc); from += midEvery {
		h.Write(doc[from : from+midEvery])
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic(err) // sha256's states always marshal
		}
		out = append(out, st)
	}
	h.Write(doc[from:])
	return docHash{sum: hex.EncodeToString(h.Sum(nil)), mids: out}
}

// hashAlongside starts hashing doc (see hashDoc) on another goroutine; the
// result is dropped if nobody takes it.
func hashAlongside(doc []byte, mids [][]byte, same int) <-chan docHash {
	c := make(chan docHash, 1)
	go func() { c <- hashDoc(doc, mids, same) }()
	return c
}

// setHash sets f's sha256 (and its states) to what h computes, unless it
// is known already.
func (f *Flows) setHash(h <-chan docHash) {
	f.shaOnce.Do(func() {
		d := <-h
		f.sha, f.mids = d.sum, d.mids
	})
}
