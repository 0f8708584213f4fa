package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// serveDefaults are every serve option's default: the packages' own
// (httpapi, projector, streams), and serve's for what is serve's alone.
// flowhist.example.yaml lists the same; a test holds it to that.
func serveDefaults(v *viper.Viper) {
	api, proj, st := httpapi.Config{}.WithDefaults(), projector.Config{}.WithDefaults(), streams.Config{}.WithDefaults()
	v.SetDefault("listen", "127.0.0.1:8080")
	v.SetDefault("auth.disabled", false)
	v.SetDefault("auth.tokens", nil)
	v.SetDefault("http.max_body", api.MaxBody)
	v.SetDefault("http.request_timeout", api.RequestTimeout)
	v.SetDefault("http.feed_max_wait", api.FeedMaxWait)
	v.SetDefault("http.read_timeout", 60*time.Second)
	v.SetDefault("http.write_timeout", api.WriteTimeout)
	v.SetDefault("http.idle_timeout", 120*time.Second)
	v.SetDefault("http.shutdown_timeout", 30*time.Second)
	v.SetDefault("sessions.ttl", api.SessionTTL)
	v.SetDefault("workers.idle_ttl", api.WorkerIdleTTL)
	v.SetDefault("workers.reap_interval", time.Hour)
	v.SetDefault("projector.interval", proj.Interval)
	v.SetDefault("projector.reclaim_idle", proj.ReclaimIdle)
	v.SetDefault("projector.timeout", proj.Timeout)
	v.SetDefault("streams.snapshot_every", st.SnapshotEvery)
	v.SetDefault("streams.idempotency_ttl", st.IdempotencyTTL)
	v.SetDefault("streams.durability.replicas", st.Durability.Replicas)
	v.SetDefault("streams.durability.aof", st.Durability.AOF)
	v.SetDefault("streams.durability.timeout", st.Durability.Timeout)
	v.SetDefault("streams.durability.required", st.Durability.Required)
	v.SetDefault("compat", []any{})
	v.SetDefault("log.format", "auto")
	v.SetDefault("log.level", "info")
}

// tokenConfig is one entry of auth.tokens.
type tokenConfig struct {
	Name       string   `json:"name" mapstructure:"name"`
	Token      string   `json:"token" mapstructure:"token"`
	Scopes     []string `json:"scopes" mapstructure:"scopes"`
	Namespaces []string `json:"namespaces" mapstructure:"namespaces"`
}

// compatConfig is one entry of compat: a namespace (or "*") whose old
// module keys are kept up to date. compat is a list, not a map keyed by
// namespace: the config library lowercases map keys, and namespaces are
// case-sensitive ("Prod" would silently get "prod"'s entry, or none).
type compatConfig struct {
	Namespace      string `mapstructure:"namespace"`
	Prefix         string `mapstructure:"prefix"`
	Compress       bool   `mapstructure:"compress"`
	UpdateChannel  string `mapstructure:"update_channel"`
	PackageChannel string `mapstructure:"package_channel"`
}

// serveConfig is everything serve reads.
type serveConfig struct {
	Listen          string
	ReadTimeout     time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	ReapInterval    time.Duration
	LogFormat       string
	LogLevel        string
	Valkey          streams.DialConfig
	API             httpapi.Config
	Projector       projector.Config
	Streams         streams.Config
}

func readServeConfig(v *viper.Viper) (serveConfig, error) {
	vc, err := valkeyConfig(v)
	if err != nil {
		return serveConfig{}, err
	}
	c := serveConfig{
		Listen:          v.GetString("listen"),
		ReadTimeout:     v.GetDuration("http.read_timeout"),
		IdleTimeout:     v.GetDuration("http.idle_timeout"),
		ShutdownTimeout: v.GetDuration("http.shutdown_timeout"),
		ReapInterval:    v.GetDuration("workers.reap_interval"),
		LogFormat:       v.GetString("log.format"),
		LogLevel:        v.GetString("log.level"),
		Valkey:          vc,
		API: httpapi.Config{
			AuthDisabled:   v.GetBool("auth.disabled"),
			MaxBody:        v.GetInt64("http.max_body"),
			RequestTimeout: v.GetDuration("http.request_timeout"),
			WriteTimeout:   v.GetDuration("http.write_timeout"),
			FeedMaxWait:    v.GetDuration("http.feed_max_wait"),
			SessionTTL:     v.GetDuration("sessions.ttl"),
			WorkerIdleTTL:  v.GetDuration("workers.idle_ttl"),
		},
		Projector: projector.Config{
			Interval:    v.GetDuration("projector.interval"),
			ReclaimIdle: v.GetDuration("projector.reclaim_idle"),
			Timeout:     v.GetDuration("projector.timeout"),
		},
		Streams: streams.Config{
			SnapshotEvery:  v.GetInt("streams.snapshot_every"),
			IdempotencyTTL: v.GetDuration("streams.idempotency_ttl"),
			Durability: streams.Durability{
				Replicas: v.GetInt("streams.durability.replicas"),
				AOF:      v.GetBool("streams.durability.aof"),
				Timeout:  v.GetDuration("streams.durability.timeout"),
				Required: v.GetBool("streams.durability.required"),
			},
		},
	}
	tokens, err := readTokens(v)
	if err != nil {
		return c, err
	}
	for _, t := range tokens {
		at := httpapi.Token{Name: t.Name, Secret: t.Token, Namespaces: t.Namespaces}
		for _, s := range t.Scopes {
			at.Scopes = append(at.Scopes, httpapi.Scope(s))
		}
		c.API.Tokens = append(c.API.Tokens, at)
	}
	compat, err := readCompat(v)
	if err != nil {
		return c, err
	}
	if len(compat) > 0 {
		c.Projector.Compat = map[string]projector.Compat{}
		for _, cc := range compat {
			c.Projector.Compat[cc.Namespace] = projector.Compat{Prefix: cc.Prefix, Compress: cc.Compress, UpdateChannel: cc.UpdateChannel, PackageChannel: cc.PackageChannel}
		}
	}
	return c, nil
}

// readCompat reads compat: a list of {namespace, prefix, compress,
// update_channel, package_channel}, each namespace (exactly as written, or
// "*") at most once. The old map form keyed by namespace is refused: its
// keys reach flowhist lowercased, so it cannot be read faithfully.
func readCompat(v *viper.Viper) ([]compatConfig, error) {
	fail := func(format string, a ...any) error {
		return &domain.Error{Code: domain.EINVALID, Message: "compat: " + fmt.Sprintf(format, a...)}
	}
	switch raw := v.Get("compat").(type) {
	case nil:
		return nil, nil
	case map[string]any:
		if len(raw) == 0 {
			return nil, nil // compat: {} (the old empty default)
		}
		return nil, fail("use a list, one entry per namespace: compat: [{namespace: prod, prefix: \"nodered:\"}] (a map keyed by namespace loses capitals in namespace names)")
	}
	var list []compatConfig
	if err := v.UnmarshalKey("compat", &list, strictFields); err != nil {
		return nil, fail("%v", err)
	}
	seen := map[string]bool{}
	for i, cc := range list {
		if cc.Namespace == "" {
			return nil, fail("entry %d has no namespace: set namespace to a namespace, exactly as written, or \"*\"", i+1)
		}
		if cc.Namespace != "*" {
			if err := domain.ValidateNamespace(cc.Namespace); err != nil {
				return nil, fail("entry %d: %v", i+1, err)
			}
		}
		if seen[cc.Namespace] {
			return nil, fail("namespace %q has two entries", cc.Namespace)
		}
		seen[cc.Namespace] = true
	}
	return list, nil
}

// strictFields makes a list entry's unknown field an error: a misspelt
// one (prefx for prefix) would otherwise leave its default in force.
func strictFields(c *mapstructure.DecoderConfig) { c.ErrorUnused = true }

// readTokens reads auth.tokens from the config file (a list) or from
// FLOWHIST_AUTH_TOKENS (the same list as JSON).
func readTokens(v *viper.Viper) ([]tokenConfig, error) {
	var tokens []tokenConfig
	switch raw := v.Get("auth.tokens").(type) {
	case nil:
	case string:
		if strings.TrimSpace(raw) == "" {
			return nil, nil
		}
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&tokens); err != nil {
			// Never the value itself: it holds the tokens.
			if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, domain.Errorf(domain.EINVALID, "auth.tokens from the environment: an entry has the unknown field %s (fields: name, token, scopes, namespaces)", field)
			}
			return nil, &domain.Error{Code: domain.EINVALID, Message: "auth.tokens from the environment must be a JSON list such as [{\"name\":\"admin\",\"token\":\"…\",\"scopes\":[\"deploy\"],\"namespaces\":[\"*\"]}]"}
		}
	default:
		if err := v.UnmarshalKey("auth.tokens", &tokens, strictFields); err != nil {
			return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("auth.tokens: %v", err)}
		}
	}
	return tokens, nil
}
