package checkpoint

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// Checkpoint is a signed statement of a namespace's head.
type Checkpoint struct {
	Namespace string          `json:"namespace"`
	Revision  domain.Revision `json:"revision"`
	// Hash is the hash-chain link of the event at Revision.
	Hash string `json:"hash"`
	// Time is when it was signed, UTC, to the millisecond.
	Time time.Time `json:"time"`
	// KeyID names the public key that verifies it (KeyID).
	KeyID string `json:"keyId"`
	// Signature is the base64 Ed25519 signature of Message().
	Signature string `json:"signature"`
}

// Message is the bytes signed: every field but the key id and the
// signature, one a line, after a line naming the format.
func (c Checkpoint) Message() []byte {
	return []byte("flowhist-checkpoint-v1\n" + c.Namespace + "\n" + strconv.FormatUint(uint64(c.Revision), 10) + "\n" + c.Hash + "\n" + c.Time.UTC().Format(time.RFC3339Nano) + "\n")
}

// KeyID is the first 16 hex digits of the sha256 of a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Sign returns the checkpoint of ns at rev, whose link is hash, signed by
// priv at t.
//
// Errors: EINVALID (a namespace, revision or hash that is not one).
func Sign(priv ed25519.PrivateKey, ns string, rev domain.Revision, hash string, t time.Time) (Checkpoint, error) {
	c := Checkpoint{Namespace: ns, Revision: rev, Hash: hash, Time: t.UTC().Truncate(time.Millisecond)}
	if err := c.validate(); err != nil {
		return Checkpoint{}, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	c.KeyID = KeyID(pub)
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, c.Message()))
	return c, nil
}

func (c Checkpoint) validate() error {
	if err := domain.ValidateNamespace(c.Namespace); err != nil {
		return err
	}
	if c.Revision == 0 {
		return domain.Errorf(domain.EINVALID, "checkpoint of %s has no revision", c.Namespace)
	}
	if len(c.Hash) != 64 || strings.Trim(c.Hash, "0123456789abcdef") != "" {
		return domain.Errorf(domain.EINVALID, "checkpoint of %s at revision %d: hash %q is not 64 lower-case hex digits", c.Namespace, c.Revision, c.Hash)
	}
	return nil
}

// Verify checks c's signature with pub.
//
// Errors: EINVALID (signed by another key, or the signature does not match
// the fields: the checkpoint was altered or forged).
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.KeyID != KeyID(pub) {
		return domain.Errorf(domain.EINVALID, "checkpoint of %s at revision %d was signed by key %s, not by the public key given (%s)", c.Namespace, c.Revision, c.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, c.Message(), sig) {
		return domain.Errorf(domain.EINVALID, "checkpoint of %s at revision %d: the signature does not match its fields (altered or forged)", c.Namespace, c.Revision)
	}
	return nil
}

// String names c for messages.
func (c Checkpoint) String() string {
	return fmt.Sprintf("checkpoint of %s at revision %d signed %s", c.Namespace, c.Revision, c.Time.UTC().Format(time.RFC3339))
}

// Marshal is c as one JSON line (without the newline).
func (c Checkpoint) Marshal() []byte {
	b, _ := json.Marshal(c) // only strings, numbers and a time
	return b
}

// Unmarshal parses one checkpoint, as Marshal wrote it.
//
// Errors: EINVALID.
func Unmarshal(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, domain.Errorf(domain.EINVALID, "not a checkpoint: %v", err)
	}
	return c, c.validate()
}

// WriteLines writes cs as JSON lines.
func WriteLines(w io.Writer, cs []Checkpoint) error {
	for _, c := range cs {
		if _, err := w.Write(append(c.Marshal(), '\n')); err != nil {
			return err
		}
	}
	return nil
}

// ReadLines reads JSON lines of checkpoints, skipping blank lines.
//
// Errors: EINVALID naming the line that is not a checkpoint.
func ReadLines(r io.Reader) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		c, err := Unmarshal([]byte(line))
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "line %d: %s", n, domain.ErrorMessage(err))
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, domain.Errorf(domain.EINVALID, "reading checkpoints: %v", err)
	}
	return out, nil
}
