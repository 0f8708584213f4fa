package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// addValkeyFlags adds the flags of commands that talk to Valkey directly.
func addValkeyFlags(fs *pflag.FlagSet) { addFlags(fs, "valkey-addr", "valkey-db", "valkey-tls") }

// defaultConfigFiles are read, the first that exists, when --config names
// none.
var defaultConfigFiles = []string{"flowhist.yaml", "flowhist.yml", "/etc/flowhist/flowhist.yaml", "/etc/flowhist/flowhist.yml"}

// loadConfig reads, in increasing precedence: defaults, the config file,
// FLOWHIST_* environment variables (FLOWHIST_VALKEY_ADDR for valkey.addr),
// and flags.
func loadConfig(v *viper.Viper, cmd *cobra.Command) error {
	setDefaults(v)
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if path, _ := cmd.Flags().GetString("config"); path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("read config %s: %v", path, err)}
		}
		if err := checkConfigKeys(path); err != nil {
			return err
		}
	} else {
		// The default files by their full names: viper's own search for
		// "flowhist" also takes an extensionless file of that name, such
		// as the binary itself in the directory it was built in.
		for _, path := range defaultConfigFiles {
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			v.SetConfigFile(path)
			if err := v.ReadInConfig(); err != nil {
				return domain.Errorf(domain.EINVALID, "read config %s: %v", path, err)
			}
			if err := checkConfigKeys(path); err != nil {
				return err
			}
			break
		}
	}
	bindOptions(v, cmd.Flags())
	return nil
}

// newKnownOptions returns a viper holding every option some command reads,
// at its default.
func newKnownOptions() *viper.Viper {
	v := viper.New()
	setDefaults(v)
	return v
}

// checkConfigKeys fails on a key of the config file at path that no
// command reads: a misspelt option (valkey.sentinel.master for
// master_name) would otherwise leave its default in force, silently.
func checkConfigKeys(path string) error {
	file := viper.New()
	file.SetConfigFile(path)
	if err := file.ReadInConfig(); err != nil {
		return domain.Errorf(domain.EINVALID, "read config %s: %v", path, err)
	}
	keys := map[string]bool{}
	for _, k := range newKnownOptions().AllKeys() {
		keys[k] = true
	}
	// takes lists what section holds: its options and its subsections.
	takes := func(section string) []string {
		var out []string
		for known := range keys {
			if rest, ok := strings.CutPrefix(known, section+"."); ok {
				rest, _, _ = strings.Cut(rest, ".")
				if !slices.Contains(out, rest) {
					out = append(out, rest)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	for _, k := range file.AllKeys() {
		if keys[k] || strings.HasPrefix(k, "auth.tokens.") || strings.HasPrefix(k, "compat.") {
			continue // lists: their entries are checked as they are read
		}
		if v := file.Get(k); (v == nil || isEmptyMap(v)) && len(takes(k)) > 0 {
			continue // a known section left empty (its options commented out)
		}
		// Name what the nearest known section around it takes.
		hint := ""
		for section := k; strings.Contains(section, "."); {
			section = section[:strings.LastIndex(section, ".")]
			if t := takes(section); len(t) > 0 {
				hint = fmt.Sprintf(" (%s takes %s)", section, strings.Join(t, ", "))
				break
			}
		}
		return domain.Errorf(domain.EINVALID, "config %s: unknown option %s%s: see flowhist.example.yaml", path, k, hint)
	}
	return nil
}

func isEmptyMap(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// valkeyConfig reads and checks the valkey section.
func valkeyConfig(v *viper.Viper) (streams.DialConfig, error) {
	var all config
	readOptions(v, &all)
	c := all.serve.Valkey
	switch s := c.Sentinel; {
	case s.MasterName != "" && len(s.Addrs) == 0:
		return c, domain.Errorf(domain.EINVALID, "valkey.sentinel.master_name is set but valkey.sentinel.addrs is empty: list the Sentinels' host:port (FLOWHIST_VALKEY_SENTINEL_ADDRS, comma-separated)")
	case s.MasterName == "" && len(s.Addrs) > 0:
		return c, domain.Errorf(domain.EINVALID, "valkey.sentinel.addrs is set but valkey.sentinel.master_name is empty: name the primary the Sentinels monitor")
	case s.MasterName != "" && c.Cluster:
		return c, domain.Errorf(domain.EINVALID, "valkey.sentinel and valkey.cluster exclude each other: a Cluster fails over by itself")
	case s.MasterName == "" && c.Addr == "":
		return c, domain.Errorf(domain.EINVALID, "valkey.addr is empty: set FLOWHIST_VALKEY_ADDR or --valkey-addr to host:port")
	}
	return c, nil
}

// newValkeyClient connects to flowhist's own Valkey (streams.Dial),
// saying in a failure which of the valkey options to check.
func newValkeyClient(c streams.DialConfig) (rueidis.Client, error) {
	client, err := streams.Dial(c)
	where := c.Where()
	switch {
	case err == nil:
		return client, nil
	case errors.Is(err, streams.ErrTLSCAFile):
		return nil, domain.Errorf(domain.EINVALID, "valkey.tls_ca_file: %s", domain.ErrorMessage(err))
	case errors.Is(err, streams.ErrNotCluster):
		return nil, domain.Errorf(domain.EINVALID, "valkey.cluster is set but %s", domain.ErrorMessage(err))
	case domain.ErrorCode(err) == domain.EUNAVAILABLE:
		return nil, domain.Errorf(domain.EUNAVAILABLE, "cannot reach Valkey (%s): %v (check FLOWHIST_VALKEY_ADDR and that valkey-server is running)", where, errors.Unwrap(err))
	}
	// Valkey answered, and refused: a setting to fix, not an outage to
	// wait out.
	hint := "check valkey.username, valkey.password and valkey.db"
	switch s := c.Sentinel; {
	case errors.Is(err, streams.ErrNotSentinel):
		hint = "valkey.sentinel.addrs lists the Sentinels (port 26379 by default), not Valkey servers"
	case errors.Is(err, streams.ErrUnknownPrimary):
		hint = fmt.Sprintf("no primary named %q: valkey.sentinel.master_name is the name in the Sentinels' `sentinel monitor` line", s.MasterName)
	case s.MasterName != "":
		hint = "check valkey.sentinel.username and valkey.sentinel.password (the Sentinels'), valkey.username, valkey.password and valkey.db (the primary's)"
	}
	return nil, domain.Errorf(domain.ErrorCode(err), "Valkey (%s): %s (%s)", where, domain.ErrorMessage(err), hint)
}
