package checkpoint_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/checkpoint"
	"github.com/flowhist/flowhist/domain"
)

const link = "a3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "audit.key")
	pub, err := checkpoint.GenerateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: got %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if _, err := checkpoint.GenerateKey(key); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("second keygen: got %v, want a refusal to overwrite", err)
	}
	priv, err := checkpoint.LoadPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := checkpoint.LoadPublicKey(key + ".pub")
	if err != nil || !loaded.Equal(pub) {
		t.Fatalf("public key: got %v (%v)", loaded, err)
	}
	at := time.Date(2026, 12, 7, 16, 0, 0, 123456789, time.UTC)
	c1, err := checkpoint.Sign(priv, "prod", 42, link, at)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := checkpoint.Sign(priv, "staging", 7, strings.Repeat("0", 64), at.Add(time.Minute))
	var buf bytes.Buffer
	if err := checkpoint.WriteLines(&buf, []checkpoint.Checkpoint{c1, c2}); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.ReadLines(&buf)
	if err != nil || len(got) != 2 {
		t.Fatalf("read back: %v %v", got, err)
	}
	for i, c := range got {
		if err := c.Verify(pub); err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
	}
	if !got[0].Time.Equal(at.Truncate(time.Millisecond)) || got[0].Revision != 42 || got[0].Hash != link {
		t.Fatalf("got %+v", got[0])
	}
	t.Run("ErrAltered", func(t *testing.T) {
		for name, alter := range map[string]func(*checkpoint.Checkpoint){
			"revision":  func(c *checkpoint.Checkpoint) { c.Revision++ },
			"hash":      func(c *checkpoint.Checkpoint) { c.Hash = strings.Repeat("1", 64) },
			"namespace": func(c *checkpoint.Checkpoint) { c.Namespace = "prod2" },
			"time":      func(c *checkpoint.Checkpoint) { c.Time = c.Time.Add(time.Millisecond) },
		} {
			c := got[0]
			alter(&c)
			if err := c.Verify(pub); domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("%s altered: got %v, want the signature refused", name, err)
			}
		}
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		other, err := checkpoint.GenerateKey(filepath.Join(dir, "other.key"))
		if err != nil {
			t.Fatal(err)
		}
		if err := got[0].Verify(other); err == nil || !strings.Contains(err.Error(), "signed by key") {
			t.Fatalf("got %v, want the key named", err)
		}
	})
	t.Run("ErrKeyReadableByOthers", func(t *testing.T) {
		os.Chmod(key, 0o644)
		defer os.Chmod(key, 0o600)
		if _, err := checkpoint.LoadPrivateKey(key); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("got %v, want a refusal saying chmod 600", err)
		}
	})
	t.Run("ErrBadLine", func(t *testing.T) {
		_, err := checkpoint.ReadLines(strings.NewReader("\n" + string(c1.Marshal()) + "\n{\"namespace\":\"prod\"}\n"))
		if err == nil || !strings.Contains(err.Error(), "line 3") {
			t.Fatalf("got %v, want line 3 named", err)
		}
	})
}
