package streams

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// DialConfig is how to reach a Valkey: one server, a Cluster (detected from
// Addr, or required with Cluster), or the primary that Sentinels name
// (Sentinel.MasterName set). serve, verify, replay, export and import's
// source all dial with it.
type DialConfig struct {
	// Addr is host:port, or a comma-separated list of Cluster nodes.
	Addr string
	// Cluster requires Valkey Cluster: connecting to anything else fails
	// with ErrNotCluster.
	Cluster  bool
	Sentinel SentinelConfig
	Username string
	Password string
	DB       int
	TLS      bool
	// TLSServerName overrides the name checked in the server certificate.
	TLSServerName string
	// TLSCAFile is a PEM file of the CAs to trust instead of the system's
	// (a private CA).
	TLSCAFile   string
	DialTimeout time.Duration
	// IOTimeout closes a connection on which Valkey has not answered for
	// this long (blocking reads excepted), so a hung server is noticed.
	IOTimeout time.Duration
}

// SentinelConfig names the Sentinels that know which server is the
// primary. Username, Password and TLS are the Sentinels' own; the primary's
// are DialConfig's.
type SentinelConfig struct {
	MasterName string
	Addrs      []string
	Username   string
	Password   string
	TLS        bool
}

// Where names what c dials, for messages: its address, or the primary
// and its Sentinels.
func (c DialConfig) Where() string {
	if s := c.Sentinel; s.MasterName != "" {
		return fmt.Sprintf("primary %q of the Sentinels at %s", s.MasterName, strings.Join(s.Addrs, ","))
	}
	return c.Addr
}

// ErrNotCluster and ErrTLSCAFile are what Dial fails with when Cluster is
// required of a server that is not a Cluster node, and when TLSCAFile
// cannot be used.
var (
	ErrNotCluster = errors.New("streams: not a Valkey Cluster node")
	ErrTLSCAFile  = errors.New("streams: unusable TLS CA file")
)

// Dial connects to Valkey with every option of c honoured, through
// NewClient. Errors: EUNAVAILABLE (unreachable or loading), EUNAUTHORIZED
// (credentials refused), EINVALID (another setting refused; wrapping
// ErrNotSentinel, ErrUnknownPrimary, ErrNotCluster or ErrTLSCAFile when it
// is one of those).
func Dial(c DialConfig) (rueidis.Client, error) {
	dialer := net.Dialer{Timeout: c.DialTimeout, KeepAlive: time.Minute}
	opt := rueidis.ClientOption{
		InitAddress:      SplitAddrs([]string{c.Addr}),
		Username:         c.Username,
		Password:         c.Password,
		SelectDB:         c.DB,
		Dialer:           dialer,
		ConnWriteTimeout: c.IOTimeout,
	}
	var tc *tls.Config
	if c.TLS || c.Sentinel.TLS {
		var err error
		if tc, err = c.tlsConfig(); err != nil {
			return nil, err
		}
	}
	if c.TLS {
		opt.TLSConfig = tc
	}
	if s := c.Sentinel; s.MasterName != "" {
		opt.InitAddress = s.Addrs
		opt.Sentinel = rueidis.SentinelOption{
			MasterSet: s.MasterName, Username: s.Username, Password: s.Password, Dialer: dialer,
			// Besides following +switch-master: a missed message would
			// otherwise leave flowhist on a demoted primary.
			TopologyRefreshInterval: 5 * time.Second,
		}
		if s.TLS {
			opt.Sentinel.TLSConfig = tc
		}
	}
	client, err := NewClient(opt)
	if err != nil {
		return nil, err
	}
	if c.Cluster && client.Mode() != rueidis.ClientModeCluster {
		client.Close()
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("%s is not a Valkey Cluster node (its mode is %s)", c.Where(), client.Mode()), Err: ErrNotCluster}
	}
	return client, nil
}

// tlsConfig is the TLS configuration of c's connections.
func (c DialConfig) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.TLSServerName, MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, &domain.Error{Code: domain.EINVALID, Message: err.Error(), Err: ErrTLSCAFile}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &domain.Error{Code: domain.EINVALID, Message: c.TLSCAFile + " has no PEM certificate", Err: ErrTLSCAFile}
		}
	}
	return tc, nil
}

// SplitAddrs returns the addresses of s, each element a comma-separated
// list.
func SplitAddrs(s []string) []string {
	var out []string
	for _, a := range s {
		for _, p := range strings.Split(a, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
