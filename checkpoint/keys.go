package checkpoint

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"

	"github.com/flowhist/flowhist/domain"
)

// GenerateKey writes a new Ed25519 key pair: the private key to path (PEM,
// PKCS #8, mode 0600) and the public key to path+".pub" (PEM, PKIX). It
// never overwrites a file.
//
// Errors: EINVALID (a file exists already, or cannot be written: the
// message says which).
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{path, path + ".pub"} {
		if _, err := os.Lstat(p); err == nil {
			return nil, domain.Errorf(domain.EINVALID, "%s exists already: choose another --out (a key is never overwritten)", p)
		}
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(path)
		return nil, err
	}
	return pub, nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return domain.Errorf(domain.EINVALID, "cannot write %s: %v", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return domain.Errorf(domain.EINVALID, "cannot write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		return domain.Errorf(domain.EINVALID, "cannot write %s: %v", path, err)
	}
	return nil
}

// LoadPrivateKey reads a private key GenerateKey wrote. It refuses a key
// file that others may read.
//
// Errors: EINVALID saying what to fix.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "audit signing key %s: %v", path, errors.Unwrap(err))
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, domain.Errorf(domain.EINVALID, "audit signing key %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
	}
	key, err := parsePEM(path, "PRIVATE KEY", x509.ParsePKCS8PrivateKey)
	if err != nil {
		return nil, err
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, domain.Errorf(domain.EINVALID, "%s is not an Ed25519 private key: write one with flowhist keygen", path)
	}
	return priv, nil
}

// LoadPublicKey reads a public key GenerateKey wrote.
//
// Errors: EINVALID saying what to fix.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	key, err := parsePEM(path, "PUBLIC KEY", x509.ParsePKIXPublicKey)
	if err != nil {
		return nil, err
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, domain.Errorf(domain.EINVALID, "%s is not an Ed25519 public key: use the .pub file flowhist keygen wrote", path)
	}
	return pub, nil
}

func parsePEM(path, typ string, parse func([]byte) (any, error)) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "cannot read %s: %v", path, errors.Unwrap(err))
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != typ {
		return nil, domain.Errorf(domain.EINVALID, "%s is not a PEM %s: write one with flowhist keygen", path, typ)
	}
	key, err := parse(block.Bytes)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %v", path, err)
	}
	return key, nil
}
