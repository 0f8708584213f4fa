package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// option is one configuration key: where it is read into, its default,
// and the environment variable and flag that set it besides the file. The
// table (options) is the one place a key is spelled: the defaults, the
// known keys of checkConfigKeys, the env bindings, the flags and the test
// of flowhist.example.yaml all come from it.
type option struct {
	key string
	// into is a pointer to the field the option is read into (*string,
	// *int, *int64, *bool, *time.Duration, *[]string), nil for the lists
	// that are read on their own (auth.tokens, compat).
	into any
	def  any
	// env is a variable that sets it besides FLOWHIST_<KEY>.
	env string
	// flag, when set, is a flag that sets it: the flag's usage is usage.
	flag, shorthand, usage string
}

// config is everything the options are read into.
type config struct {
	serve serveConfig
	cli   struct{ url, token, namespace, caFile, certFile, keyFile string }
	// importValkeyPassword is import --from-valkey's source password.
	importValkeyPassword string
}

// options returns the table, reading into c. Defaults of what the packages
// configure are the packages' own (WithDefaults).
func options(c *config) []option {
	api, proj, st := httpapi.Config{}.WithDefaults(), projector.Config{}.WithDefaults(), streams.Config{}.WithDefaults()
	s := &c.serve
	return []option{
		{key: "listen", into: &s.Listen, def: "127.0.0.1:8080", flag: "listen", usage: "address to listen on"},
		{key: "listen_tls.cert_file", into: &s.TLS.CertFile, def: ""},
		{key: "listen_tls.key_file", into: &s.TLS.KeyFile, def: ""},
		{key: "listen_tls.client_ca_file", into: &s.TLS.ClientCAFile, def: ""},

		{key: "valkey.addr", into: &s.Valkey.Addr, def: "127.0.0.1:6379", flag: "valkey-addr", usage: "Valkey address host:port"},
		{key: "valkey.cluster", into: &s.Valkey.Cluster, def: false},
		{key: "valkey.username", into: &s.Valkey.Username, def: ""},
		{key: "valkey.password", into: &s.Valkey.Password, def: ""},
		{key: "valkey.db", into: &s.Valkey.DB, def: 0, flag: "valkey-db", usage: "Valkey database number"},
		{key: "valkey.tls", into: &s.Valkey.TLS, def: false, flag: "valkey-tls", usage: "connect to Valkey with TLS"},
		{key: "valkey.tls_server_name", into: &s.Valkey.TLSServerName, def: ""},
		{key: "valkey.tls_ca_file", into: &s.Valkey.TLSCAFile, def: ""},
		{key: "valkey.dial_timeout", into: &s.Valkey.DialTimeout, def: 5 * time.Second},
		{key: "valkey.io_timeout", into: &s.Valkey.IOTimeout, def: 10 * time.Second},
		{key: "valkey.sentinel.master_name", into: &s.Valkey.Sentinel.MasterName, def: ""},
		{key: "valkey.sentinel.addrs", into: &s.Valkey.Sentinel.Addrs, def: []string{}},
		{key: "valkey.sentinel.username", into: &s.Valkey.Sentinel.Username, def: ""},
		{key: "valkey.sentinel.password", into: &s.Valkey.Sentinel.Password, def: ""},
		{key: "valkey.sentinel.tls", into: &s.Valkey.Sentinel.TLS, def: false},

		{key: "auth.disabled", into: &s.API.AuthDisabled, def: false},
		{key: "auth.tokens", def: nil}, // readTokens: name, token, scopes, namespaces, assert_users
		{key: "http.max_body", into: &s.API.MaxBody, def: api.MaxBody},
		{key: "http.request_timeout", into: &s.API.RequestTimeout, def: api.RequestTimeout},
		{key: "http.feed_max_wait", into: &s.API.FeedMaxWait, def: api.FeedMaxWait},
		{key: "http.read_timeout", into: &s.ReadTimeout, def: 60 * time.Second},
		{key: "http.write_timeout", into: &s.API.WriteTimeout, def: api.WriteTimeout},
		{key: "http.idle_timeout", into: &s.IdleTimeout, def: 120 * time.Second},
		{key: "http.shutdown_timeout", into: &s.ShutdownTimeout, def: 30 * time.Second},
		{key: "http.max_groups", into: &s.API.MaxGroups, def: api.MaxGroups},
		{key: "metrics.token", into: &s.API.MetricsToken, def: ""},
		{key: "metrics.token_sha256", into: &s.API.MetricsTokenSHA256, def: ""},
		{key: "metrics.hide_ids", into: &s.API.MetricsNoIDs, def: false},
		{key: "sessions.ttl", into: &s.API.SessionTTL, def: api.SessionTTL},
		{key: "workers.idle_ttl", into: &s.API.WorkerIdleTTL, def: api.WorkerIdleTTL},
		{key: "workers.reap_interval", into: &s.ReapInterval, def: time.Hour},
		{key: "rollout.member_idle", into: &s.API.RolloutMemberIdle, def: api.RolloutMemberIdle},
		{key: "rollout.tick", into: &s.API.RolloutTick, def: api.RolloutTick},
		{key: "rollout.lease", into: &s.API.RolloutLease, def: api.RolloutLease},
		{key: "projector.interval", into: &s.Projector.Interval, def: proj.Interval},
		{key: "projector.reclaim_idle", into: &s.Projector.ReclaimIdle, def: proj.ReclaimIdle},
		{key: "projector.timeout", into: &s.Projector.Timeout, def: proj.Timeout},
		{key: "streams.snapshot_every", into: &s.Streams.SnapshotEvery, def: st.SnapshotEvery},
		{key: "streams.idempotency_ttl", into: &s.Streams.IdempotencyTTL, def: st.IdempotencyTTL},
		// replicas and required have no default: unset under Sentinel,
		// serve waits for every replica (durabilityDefault); else 0, false.
		{key: "streams.durability.replicas", into: &s.Streams.Durability.Replicas, def: nil},
		{key: "streams.durability.aof", into: &s.Streams.Durability.AOF, def: st.Durability.AOF},
		{key: "streams.durability.timeout", into: &s.Streams.Durability.Timeout, def: st.Durability.Timeout},
		{key: "streams.durability.required", into: &s.Streams.Durability.Required, def: nil},
		{key: "compat", def: []any{}}, // readCompat
		{key: "audit.signing_key_file", into: &s.AuditKeyFile, def: ""},
		{key: "audit.checkpoint_every", into: &s.CheckpointEvery, def: time.Minute},
		// memory_limit: auto (90% of the cgroup's limit, else none), off
		// or a size; parseMemoryLimit.
		{key: "memory_limit", into: &s.MemoryLimit, def: "auto"},
		{key: "log.format", into: &s.LogFormat, def: "auto"},
		{key: "log.level", into: &s.LogLevel, def: "info"},

		{key: "cli.url", into: &c.cli.url, def: "http://127.0.0.1:8080", env: "FLOWHIST_URL", flag: "url", usage: "flowhist URL"},
		{key: "cli.token", into: &c.cli.token, def: "", env: "FLOWHIST_TOKEN", flag: "token", usage: "bearer token"},
		{key: "cli.namespace", into: &c.cli.namespace, def: "", env: "FLOWHIST_NAMESPACE", flag: "namespace", shorthand: "n", usage: "namespace"},
		{key: "cli.ca_file", into: &c.cli.caFile, def: "", env: "FLOWHIST_CA_FILE", flag: "ca-file", usage: "PEM of the CA that signed flowhist's certificate (https://)"},
		{key: "cli.cert_file", into: &c.cli.certFile, def: "", env: "FLOWHIST_CERT_FILE", flag: "cert-file", usage: "client certificate (PEM) for flowhist's listen_tls.client_ca_file"},
		{key: "cli.key_file", into: &c.cli.keyFile, def: "", env: "FLOWHIST_KEY_FILE", flag: "key-file", usage: "the client certificate's key (PEM)"},
		{key: "import_valkey_password", into: &c.importValkeyPassword, def: ""},
	}
}

// envName is the variable that sets o, besides FLOWHIST_<KEY>: o.env if
// set, else that one.
func (o option) envName() string {
	if o.env != "" {
		return o.env
	}
	return "FLOWHIST_" + strings.ToUpper(strings.ReplaceAll(o.key, ".", "_"))
}

// setDefaults gives v every option's default.
func setDefaults(v *viper.Viper) {
	for _, o := range options(&config{}) {
		v.SetDefault(o.key, o.def)
	}
}

// bindOptions binds the options' own environment variables and the flags
// of fs (nil: none) that were given, over the file and FLOWHIST_<KEY>.
func bindOptions(v *viper.Viper, fs *pflag.FlagSet) {
	for _, o := range options(&config{}) {
		if o.env != "" {
			v.BindEnv(o.key, o.env)
		}
		if o.flag == "" || fs == nil {
			continue
		}
		if f := fs.Lookup(o.flag); f != nil && f.Changed {
			v.Set(o.key, f.Value.String())
		}
	}
}

// addFlags adds the flags of the options named by flag.
func addFlags(fs *pflag.FlagSet, flags ...string) {
	for _, o := range options(&config{}) {
		for _, name := range flags {
			if o.flag != name {
				continue
			}
			usage := fmt.Sprintf("%s (env %s, config %s", o.usage, o.envName(), o.key)
			if d := reflect.ValueOf(o.def); d.IsValid() && !d.IsZero() {
				usage += fmt.Sprintf("; default %v", o.def)
			}
			usage += ")"
			switch o.def.(type) {
			case int:
				fs.IntP(o.flag, o.shorthand, 0, usage)
			case bool:
				fs.BoolP(o.flag, o.shorthand, false, usage)
			default:
				fs.StringP(o.flag, o.shorthand, "", usage)
			}
		}
	}
}

// readOptions reads every option of the table into c.
func readOptions(v *viper.Viper, c *config) {
	for _, o := range options(c) {
		switch p := o.into.(type) {
		case *string:
			*p = v.GetString(o.key)
		case *int:
			*p = v.GetInt(o.key)
		case *int64:
			*p = v.GetInt64(o.key)
		case *bool:
			*p = v.GetBool(o.key)
		case *time.Duration:
			*p = v.GetDuration(o.key)
		case *[]string:
			*p = streams.SplitAddrs(v.GetStringSlice(o.key))
		case nil:
		default:
			panic(fmt.Sprintf("option %s: cannot read into %T", o.key, o.into))
		}
	}
}
