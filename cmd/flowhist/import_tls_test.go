package main

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestImportFromValkeyTLS imports the old module's keys over TLS from a
// Valkey whose certificate a private CA signed.
func TestImportFromValkeyTLS(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
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
	rc := streamstest.Client(t, srv.Addr)
	if err := rc.Do(context.Background(), rc.B().Set().Key("nodered:flows").Value(doc1).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	tlsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
	t.Run("OK", func(t *testing.T) {
		ns := randomNS(t)
		code, out, errOut := run(t, "import", "--from-valkey", tlsAddr, "--from-valkey-tls", "--from-valkey-tls-ca-file", ca, "--url", s.URL, "-n", ns)
		if code != 0 || !strings.Contains(out, "imported 1 items") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("ErrUntrusted", func(t *testing.T) {
		ns := randomNS(t)
		code, _, errOut := run(t, "import", "--from-valkey", tlsAddr, "--from-valkey-tls", "--url", s.URL, "-n", ns)
		if code != exitUnavailable || !strings.Contains(errOut, "certificate") {
			t.Fatalf("got exit %d, stderr %q, want %d about the certificate", code, errOut, exitUnavailable)
		}
		oneLineErr(t, errOut)
		wantNothingImported(t, s, ns)
	})
}
