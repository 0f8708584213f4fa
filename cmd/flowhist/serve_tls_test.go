package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, der: der}
}

// issue writes a certificate for cn (a server's for 127.0.0.1, or a
// client's) and its key to dir/name.pem and dir/name-key.pem.
func (ca *testCA) issue(t *testing.T, dir, name, cn string, client bool) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	// The key first, then the certificate: a rotation's reader may see
	// the new key with the old certificate for a moment, and must cope.
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	writePEM(t, certFile, "CERTIFICATE", der)
	return certFile, keyFile
}

// writeCA writes the CA's certificate to dir/name.
func (ca *testCA) write(t *testing.T, dir, name string) string {
	p := filepath.Join(dir, name)
	writePEM(t, p, "CERTIFICATE", ca.der)
	return p
}

func writePEM(t *testing.T, p, typ string, der []byte) {
	t.Helper()
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a buffer serve writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs serve with the config text (listen and valkey added) until
// the test ends, and returns its base URL once it answers.
func startServe(t *testing.T, text string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := readConfigText(t, fmt.Sprintf("listen: %s\nvalkey:\n  addr: %s\nlog:\n  level: error\n%s", addr, valkeytest.Shared(t), text))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTokens(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- (&Main{Stdout: out, Stderr: io.Discard}).serve(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "listening on"); {
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve is not listening within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	scheme, _, _ := strings.Cut(strings.TrimSpace(out.String()[strings.Index(out.String(), "listening on ")+len("listening on "):]), "://")
	return scheme + "://" + addr
}

// peerCN is the common name of the certificate the server at url shows.
func peerCN(t *testing.T, addr string, roots *x509.CertPool) (string, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

const tlsAdminToken = "5b2e8c0d9a7f41e3b6c8d2f0a4e6b8c1d3f5a7e9b0c2d4e6"

// TestServeTLS is issue 19's finding 7 (no TLS of its own): listen_tls
// serves HTTPS, TLS 1.2 and later, the CLI reaches it with --ca-file, and
// a certificate replaced on disk is served without a restart.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "flowhist test CA")
	caFile := ca.write(t, dir, "ca.pem")
	certFile, keyFile := ca.issue(t, dir, "server", "first", false)
	base := startServe(t, fmt.Sprintf("listen_tls:\n  cert_file: %s\n  key_file: %s\nauth:\n  tokens:\n    - {name: admin, token: %q, scopes: [admin], namespaces: [\"*\"], workers: [\"*\"]}\n", certFile, keyFile, tlsAdminToken))
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("got %s, want serve to say https://", base)
	}
	addr := strings.TrimPrefix(base, "https://")
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	t.Run("CLIWithCAFile", func(t *testing.T) {
		code, out, errOut := run(t, "history", "--url", base, "--token", tlsAdminToken, "-n", "tls-"+randomNS(t), "--ca-file", caFile)
		if code != 0 {
			t.Fatalf("got exit %d, %q %q", code, out, errOut)
		}
		code, _, errOut = run(t, "history", "--url", base, "--token", tlsAdminToken, "-n", "tls-x")
		if code == 0 || !strings.Contains(errOut, "certificate") {
			t.Fatalf("without --ca-file: got exit %d, %q, want a failure about the certificate", code, errOut)
		}
	})
	t.Run("Healthcheck", func(t *testing.T) {
		if code, out, errOut := run(t, "healthcheck", "--url", base+"/healthz", "--ca-file", caFile); code != 0 {
			t.Fatalf("healthcheck with --ca-file: got exit %d, %q %q", code, out, errOut)
		}
	})
	t.Run("ErrPlainHTTP", func(t *testing.T) {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			defer res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Fatal("plain HTTP got 200 from a TLS listener")
			}
		}
	})
	t.Run("ErrTLS11", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11})
		if err == nil {
			c.Close()
			t.Fatal("TLS 1.1 handshake succeeded, want it refused")
		}
	})
	t.Run("Rotation", func(t *testing.T) {
		if cn, err := peerCN(t, addr, roots); err != nil || cn != "first" {
			t.Fatalf("got %q (%v), want the first certificate", cn, err)
		}
		ca.issue(t, dir, "server", "second", false)
		var cn string
		for deadline := time.Now().Add(10 * time.Second); ; {
			var err error
			if cn, err = peerCN(t, addr, roots); err != nil {
				t.Fatalf("handshake during the rotation: %v", err)
			}
			if cn == "second" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if cn != "second" {
			t.Fatalf("got %q 10s after the files changed, want the new certificate", cn)
		}
	})
}

// TestServeMutualTLS: with client_ca_file, a client without a certificate
// from that CA is refused at the handshake, and a certificate mapped to a
// token by client_cert_cn stands for it without a bearer token.
func TestServeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "flowhist test CA")
	caFile := ca.write(t, dir, "ca.pem")
	certFile, keyFile := ca.issue(t, dir, "server", "127.0.0.1", false)
	edgeCert, edgeKey := ca.issue(t, dir, "edge-1", "edge-1", true)
	otherCert, otherKey := ca.issue(t, dir, "stranger", "stranger", true)
	rogue := newTestCA(t, "rogue CA")
	rogueCert, rogueKey := rogue.issue(t, dir, "rogue", "edge-1", true)
	base := startServe(t, fmt.Sprintf("listen_tls:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\nauth:\n  tokens:\n    - {name: edge, client_cert_cn: edge-1, scopes: [read], namespaces: [\"*\"], workers: [edge-1]}\n", certFile, keyFile, caFile))
	ns := "mtls-" + randomNS(t)

	get := func(certFile, keyFile, p string) (int, error) {
		roots := x509.NewCertPool()
		roots.AddCert(ca.cert)
		tc := &tls.Config{RootCAs: roots}
		if certFile != "" {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
		res, err := cl.Get(base + p)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if _, err := get("", "", "/healthz"); err == nil {
		t.Error("no client certificate: got an answer, want the handshake refused")
	}
	if _, err := get(rogueCert, rogueKey, "/healthz"); err == nil {
		t.Error("a certificate from another CA: got an answer, want the handshake refused")
	}
	if st, err := get(edgeCert, edgeKey, "/v1/namespaces/"+ns+"/flows"); err != nil || st != http.StatusOK {
		t.Errorf("edge-1's certificate: got %d (%v), want 200 as token edge", st, err)
	}
	if st, err := get(edgeCert, edgeKey, "/v1/namespaces/"+ns+"/feed?worker=edge-2&wait=0s"); err != nil || st != http.StatusForbidden {
		t.Errorf("edge-1's certificate as worker edge-2: got %d (%v), want 403", st, err)
	}
	if st, err := get(otherCert, otherKey, "/v1/namespaces/"+ns+"/flows"); err != nil || st != http.StatusUnauthorized {
		t.Errorf("a certificate no token names: got %d (%v), want 401", st, err)
	}
	// The CLI shows its certificate too.
	if code, out, errOut := run(t, "history", "--url", base, "-n", ns, "--ca-file", caFile, "--cert-file", edgeCert, "--key-file", edgeKey); code != 0 {
		t.Fatalf("CLI with --cert-file: got exit %d, %q %q", code, out, errOut)
	}
}
