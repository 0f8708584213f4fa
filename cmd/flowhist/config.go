package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// ValkeyConfig is how flowhist reaches Valkey.
type ValkeyConfig struct {
	Addr     string
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

func setValkeyDefaults(v *viper.Viper) {
	v.SetDefault("valkey.addr", "127.0.0.1:6379")
	v.SetDefault("valkey.username", "")
	v.SetDefault("valkey.password", "")
	v.SetDefault("valkey.db", 0)
	v.SetDefault("valkey.tls", false)
	v.SetDefault("valkey.tls_server_name", "")
	v.SetDefault("valkey.tls_ca_file", "")
	v.SetDefault("valkey.dial_timeout", 5*time.Second)
	v.SetDefault("valkey.io_timeout", 10*time.Second)
}

// addValkeyFlags adds the flags of commands that talk to Valkey directly.
func addValkeyFlags(fs *pflag.FlagSet) {
	fs.String("valkey-addr", "", "Valkey address host:port (env FLOWHIST_VALKEY_ADDR; default 127.0.0.1:6379)")
	fs.Int("valkey-db", 0, "Valkey database number (env FLOWHIST_VALKEY_DB)")
	fs.Bool("valkey-tls", false, "connect to Valkey with TLS (env FLOWHIST_VALKEY_TLS)")
}

// loadConfig reads, in increasing precedence: defaults, the config file,
// FLOWHIST_* environment variables (FLOWHIST_VALKEY_ADDR for valkey.addr),
// and flags.
func loadConfig(v *viper.Viper, cmd *cobra.Command) error {
	setValkeyDefaults(v)
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if path, _ := cmd.Flags().GetString("config"); path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("read config %s: %v", path, err)}
		}
	} else {
		v.SetConfigName("flowhist")
		v.SetConfigType("yaml")
		v.AddConfigPath(".")
		v.AddConfigPath("/etc/flowhist")
		if err := v.ReadInConfig(); err != nil {
			if _, missing := err.(viper.ConfigFileNotFoundError); !missing {
				return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("read config: %v", err)}
			}
		}
	}
	for flag, key := range map[string]string{"valkey-addr": "valkey.addr", "valkey-db": "valkey.db", "valkey-tls": "valkey.tls"} {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}
	return nil
}

// valkeyConfig reads the valkey section key by key: viper's Unmarshal of a
// nested section ignores environment overrides of its keys.
func valkeyConfig(v *viper.Viper) (ValkeyConfig, error) {
	c := ValkeyConfig{
		Addr:          v.GetString("valkey.addr"),
		Username:      v.GetString("valkey.username"),
		Password:      v.GetString("valkey.password"),
		DB:            v.GetInt("valkey.db"),
		TLS:           v.GetBool("valkey.tls"),
		TLSServerName: v.GetString("valkey.tls_server_name"),
		TLSCAFile:     v.GetString("valkey.tls_ca_file"),
		DialTimeout:   v.GetDuration("valkey.dial_timeout"),
		IOTimeout:     v.GetDuration("valkey.io_timeout"),
	}
	if c.Addr == "" {
		return c, &domain.Error{Code: domain.EINVALID, Message: "valkey.addr is empty: set FLOWHIST_VALKEY_ADDR or --valkey-addr to host:port"}
	}
	return c, nil
}

// newValkeyClient connects to Valkey with every option of c honoured.
func newValkeyClient(c ValkeyConfig) (rueidis.Client, error) {
	opt := rueidis.ClientOption{
		InitAddress:      []string{c.Addr},
		Username:         c.Username,
		Password:         c.Password,
		SelectDB:         c.DB,
		Dialer:           net.Dialer{Timeout: c.DialTimeout, KeepAlive: time.Minute},
		ConnWriteTimeout: c.IOTimeout,
	}
	if c.TLS {
		opt.TLSConfig = &tls.Config{ServerName: c.TLSServerName, MinVersion: tls.VersionTLS12}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("valkey.tls_ca_file: %v", err)}
			}
			opt.TLSConfig.RootCAs = x509.NewCertPool()
			if !opt.TLSConfig.RootCAs.AppendCertsFromPEM(pem) {
				return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("valkey.tls_ca_file %s has no PEM certificate", c.TLSCAFile)}
			}
		}
	}
	client, err := streams.NewClient(opt)
	if err != nil {
		return nil, &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("cannot reach Valkey at %s: %v (check FLOWHIST_VALKEY_ADDR and that valkey-server is running)", c.Addr, err)}
	}
	return client, nil
}
