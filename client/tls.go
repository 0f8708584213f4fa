package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/flowhist/flowhist/domain"
)

// TLS is the TLS configuration that CAFile, CertFile and KeyFile ask for,
// nil when they are unset (the system's CAs, no client certificate).
//
// Errors: EINVALID (a file missing, not PEM, or a pair that does not match).
func (cfg Config) TLS() (*tls.Config, error) {
	if cfg.CAFile == "" && cfg.CertFile == "" && cfg.KeyFile == "" {
		return nil, nil
	}
	fail := func(format string, a ...any) error {
		return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf(format, a...)}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fail("CA file: %v (set --ca-file or FLOWHIST_CA_FILE)", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fail("CA file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fail("client certificate: %v (set both --cert-file and --key-file)", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
