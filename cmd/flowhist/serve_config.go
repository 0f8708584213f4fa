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
	"github.com/spf13/viper"
)

// serveDefaults are every serve option's default; README.md and
// flowhist.example.yaml list the same.
func serveDefaults(v *viper.Viper) {
	v.SetDefault("listen", "127.0.0.1:8080")
	v.SetDefault("auth.disabled", false)
	v.SetDefault("auth.tokens", nil)
	v.SetDefault("http.max_body", 32<<20)
	v.SetDefault("http.request_timeout", 5*time.Second)
	v.SetDefault("http.feed_max_wait", 60*time.Second)
	v.SetDefault("http.read_timeout", 60*time.Second)
	v.SetDefault("http.write_timeout", 60*time.Second)
	v.SetDefault("http.idle_timeout", 120*time.Second)
	v.SetDefault("http.shutdown_timeout", 30*time.Second)
	v.SetDefault("sessions.ttl", 24*time.Hour)
	v.SetDefault("workers.idle_ttl", 7*24*time.Hour)
	v.SetDefault("workers.reap_interval", time.Hour)
	v.SetDefault("projector.interval", time.Second)
	v.SetDefault("projector.reclaim_idle", 30*time.Second)
	v.SetDefault("projector.timeout", 30*time.Second)
	v.SetDefault("streams.snapshot_every", 100)
	v.SetDefault("streams.idempotency_ttl", 24*time.Hour)
	v.SetDefault("streams.durability.replicas", 0)
	v.SetDefault("streams.durability.aof", false)
	v.SetDefault("streams.durability.timeout", time.Second)
	v.SetDefault("streams.durability.required", false)
	v.SetDefault("compat", map[string]any{})
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
// module keys are kept up to date.
type compatConfig struct {
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
	Valkey          ValkeyConfig
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
	var compat map[string]compatConfig
	if err := v.UnmarshalKey("compat", &compat); err != nil {
		return c, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("compat: %v", err)}
	}
	if len(compat) > 0 {
		c.Projector.Compat = map[string]projector.Compat{}
		for ns, cc := range compat {
			c.Projector.Compat[ns] = projector.Compat{Prefix: cc.Prefix, Compress: cc.Compress, UpdateChannel: cc.UpdateChannel, PackageChannel: cc.PackageChannel}
		}
	}
	return c, nil
}

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
		if err := json.Unmarshal([]byte(raw), &tokens); err != nil {
			return nil, &domain.Error{Code: domain.EINVALID, Message: "auth.tokens from the environment must be a JSON list such as [{\"name\":\"admin\",\"token\":\"…\",\"scopes\":[\"deploy\"],\"namespaces\":[\"*\"]}]"}
		}
	default:
		if err := v.UnmarshalKey("auth.tokens", &tokens); err != nil {
			return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("auth.tokens: %v", err)}
		}
	}
	return tokens, nil
}
