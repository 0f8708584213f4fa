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

// tokenConfig is one entry of auth.tokens.
type tokenConfig struct {
	Name        string   `json:"name" mapstructure:"name"`
	Token       string   `json:"token" mapstructure:"token"`
	TokenSHA256 string   `json:"token_sha256" mapstructure:"token_sha256"`
	Scopes      []string `json:"scopes" mapstructure:"scopes"`
	Namespaces  []string `json:"namespaces" mapstructure:"namespaces"`
	// AssertUsers: the token may name the user it acts for (Node-RED's admin).
	AssertUsers  bool        `json:"assert_users" mapstructure:"assert_users"`
	Workers      []string    `json:"workers" mapstructure:"workers"`
	Rings        []string    `json:"rings" mapstructure:"rings"`
	ClientCertCN string      `json:"client_cert_cn" mapstructure:"client_cert_cn"`
	Limits       limitConfig `json:"limits" mapstructure:"limits"`
}

// limitConfig is auth.tokens[].limits.
type limitConfig struct {
	RequestsPerSecond float64 `json:"requests_per_second" mapstructure:"requests_per_second"`
	Burst             int     `json:"burst" mapstructure:"burst"`
	Feeds             int     `json:"feeds" mapstructure:"feeds"`
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
	TLS             tlsConfig
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
	// AuditKeyFile is the Ed25519 key serve signs checkpoints with ("":
	// none), every CheckpointEvery.
	AuditKeyFile    string
	CheckpointEvery time.Duration
	// MemoryLimit is memory_limit as written (parseMemoryLimit).
	MemoryLimit string
}

func readServeConfig(v *viper.Viper) (serveConfig, error) {
	vc, err := valkeyConfig(v)
	if err != nil {
		return serveConfig{}, err
	}
	var all config
	readOptions(v, &all)
	c := all.serve
	c.Valkey = vc
	c.Streams.Durability = durabilityDefault(v, c.Valkey, c.Streams.Durability)
	if err := checkRolloutOptions(v); err != nil {
		return c, err
	}
	if _, err := parseMemoryLimit(c.MemoryLimit); err != nil {
		return c, err
	}
	tokens, err := readTokens(v)
	if err != nil {
		return c, err
	}
	for _, t := range tokens {
		at := httpapi.Token{Name: t.Name, Secret: t.Token, SecretSHA256: t.TokenSHA256, Namespaces: t.Namespaces, AssertUsers: t.AssertUsers, Workers: t.Workers, Rings: t.Rings, ClientCertCN: t.ClientCertCN,
			Limits: httpapi.Limits{RequestsPerSecond: t.Limits.RequestsPerSecond, Burst: t.Limits.Burst, Feeds: t.Limits.Feeds}}
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

// durabilityDefault is d, or under Sentinel with neither
// streams.durability.replicas nor .required configured, a wait for every
// replica the Sentinels could promote, required: the setting that loses
// nothing acknowledged when the primary fails over.
func durabilityDefault(v *viper.Viper, vc streams.DialConfig, d streams.Durability) streams.Durability {
	if vc.Sentinel.MasterName != "" && !v.IsSet("streams.durability.replicas") && !v.IsSet("streams.durability.required") {
		d.EveryReplica, d.Required = true, true
	}
	return d
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
				return nil, domain.Errorf(domain.EINVALID, "auth.tokens from the environment: an entry has the unknown field %s (fields: name, token, token_sha256, scopes, namespaces, assert_users, workers, rings, client_cert_cn, limits)", field)
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
