package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestValkeyTLS runs verify over TLS to a Valkey whose certificate a
// private CA signed: it works with valkey.tls_ca_file naming that CA, and
// fails (unavailable) without it.
func TestValkeyTLS(t *testing.T) {
	dir := t.TempDir()
	ca := writeTestPKI(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := valkeytest.Start(t, "--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server-key.pem"),
		"--tls-ca-cert-file", ca, "--tls-auth-clients", "no")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Seed through the plain port.
	store, _ := streams.New(streamstest.Client(t, srv.Addr), streams.Config{}, nil)
	ns := streamstest.Namespace(t)
	streamstest.AppendMixed(t, ctx, store, ns, 3)
	p, _ := projector.New(store, projector.Config{}, nil)
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	tlsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	t.Run("OK", func(t *testing.T) {
		t.Setenv("FLOWHIST_VALKEY_TLS_CA_FILE", ca)
		code, out, errOut := run(t, "verify", "-n", ns, "--valkey-addr", tlsAddr, "--valkey-tls")
		if code != 0 || !strings.Contains(out, "3 revisions verified") {
			t.Fatalf("got exit %d, %q %q; want verified over TLS", code, out, errOut)
		}
	})
	t.Run("ErrUntrusted", func(t *testing.T) {
		code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", tlsAddr, "--valkey-tls")
		if code == 0 || !strings.Contains(errOut, "certificate") {
			t.Fatalf("got exit %d, %q; want a failure about the certificate", code, errOut)
		}
	})
	t.Run("ErrBadCAFile", func(t *testing.T) {
		t.Setenv("FLOWHIST_VALKEY_TLS_CA_FILE", filepath.Join(dir, "missing.pem"))
		code, _, errOut := run(t, "verify", "-n", ns, "--valkey-addr", tlsAddr, "--valkey-tls")
		if code != exitUsage || !strings.Contains(errOut, "tls_ca_file") {
			t.Fatalf("got exit %d, %q; want %d naming valkey.tls_ca_file", code, errOut, exitUsage)
		}
	})
}

// writeTestPKI writes a CA and a server certificate for 127.0.0.1 signed by
// it into dir, and returns the CA file's path.
func writeTestPKI(t *testing.T, dir string) string {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flowhist test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write("server.pem", "CERTIFICATE", der)
	write("server-key.pem", "EC PRIVATE KEY", keyDER)
	return write("ca.pem", "CERTIFICATE", caDER)
}
