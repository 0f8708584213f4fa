package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
)

// tlsConfig is listen_tls: HTTPS on listen when CertFile is set.
type tlsConfig struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string
}

// enabled reports whether listen_tls asks for HTTPS.
func (c tlsConfig) enabled() bool { return c.CertFile != "" || c.KeyFile != "" || c.ClientCAFile != "" }

// serverTLS is the TLS configuration of the listener: TLS 1.2 and later,
// the certificate read again whenever its files change (rotation without
// a restart), and with ClientCAFile, a client certificate that CA signed
// required of every client.
//
// Errors: EINVALID (a file missing or unreadable, a pair that does not
// match, a CA file with no certificate).
func (c tlsConfig) serverTLS(log *zap.Logger) (*tls.Config, error) {
	fail := func(format string, a ...any) error {
		return &domain.Error{Code: domain.EINVALID, Message: "listen_tls: " + fmt.Sprintf(format, a...)}
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, fail("set both cert_file and key_file (PEM)")
	}
	certs := &certReloader{certFile: c.CertFile, keyFile: c.KeyFile, log: log}
	if _, err := certs.load(); err != nil {
		return nil, fail("%v", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get, NextProtos: []string{"h2", "http/1.1"}}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fail("client_ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fail("client_ca_file %s holds no PEM certificate", c.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// certReloader hands out the listener's certificate, reading its files
// again when either one's modification time or size changed, looked at
// no more than once a second.
type certReloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' modification times and sizes
	checked time.Time
}

// stampOf is what changes when either file does.
func (r *certReloader) stampOf() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}

// load reads the pair if it changed since it was last read.
func (r *certReloader) load() (*tls.Certificate, error) {
	stamp, err := r.stampOf()
	if err != nil {
		return nil, err
	}
	if stamp == r.stamp && r.cert != nil {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp = &cert, stamp
	return r.cert, nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		old := r.cert
		if _, err := r.load(); err != nil {
			// Half-written files during a rotation: keep serving the old
			// pair, and try again at the next handshake a second on.
			r.log.Warn("listen_tls: reading the certificate again failed; serving the previous one", zap.Error(err))
		} else if r.cert != old {
			r.log.Info("listen_tls: certificate reloaded", zap.String("cert_file", r.certFile))
		}
	}
	return r.cert, nil
}
