package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/spf13/viper"
)

// TestExampleConfigIsTheDefaults keeps flowhist.example.yaml honest: read
// on its own, with no defaults behind it (so an option it leaves out reads
// as zero), it must give exactly the configuration of no file at all, whose
// defaults are the packages' own.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	read := func(file string) serveConfig {
		t.Helper()
		v := viper.New()
		if file == "" {
			setDefaults(v)
		} else {
			v.SetConfigFile(file)
			if err := v.ReadInConfig(); err != nil {
				t.Fatal(err)
			}
		}
		c, err := readServeConfig(v)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	got, want := read("flowhist.example.yaml"), read("")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the example config differs from the defaults:\ngot  %+v\nwant %+v", got, want)
	}
	// And serve's defaults are the packages': completing them changes
	// nothing.
	for name, pair := range map[string][2]any{
		"httpapi":   {want.API.WithDefaults(), httpapi.Config{}.WithDefaults()},
		"projector": {want.Projector.WithDefaults(), projector.Config{}.WithDefaults()},
		"streams":   {want.Streams.WithDefaults(), streams.Config{}.WithDefaults()},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("serve's %s defaults differ from the package's:\ngot  %+v\nwant %+v", name, pair[0], pair[1])
		}
	}
}

func TestTokensFromEnvironment(t *testing.T) {
	t.Setenv("FLOWHIST_AUTH_TOKENS", `[{"name":"admin","token":"0123456789abcdef0123","scopes":["admin"],"namespaces":["*"]}]`)
	v := viper.New()
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	c, err := readServeConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.API.Tokens) != 1 || c.API.Tokens[0].Name != "admin" || c.API.Tokens[0].Scopes[0] != "admin" {
		t.Fatalf("got tokens %+v, want the admin token from FLOWHIST_AUTH_TOKENS", c.API.Tokens)
	}
	t.Setenv("FLOWHIST_AUTH_TOKENS", `not json`)
	if _, err := readServeConfig(v); err == nil || strings.Contains(err.Error(), "not json") {
		t.Fatalf("got %v, want a usage error that does not echo the value", err)
	}
	// A misspelt field is named; the token is not repeated.
	t.Setenv("FLOWHIST_AUTH_TOKENS", `[{"name":"admin","token":"0123456789abcdef0123","scope":["admin"],"namespaces":["*"]}]`)
	if _, err := readServeConfig(v); err == nil || !strings.Contains(err.Error(), `unknown field "scope"`) || strings.Contains(err.Error(), "0123456789abcdef0123") {
		t.Fatalf("got %v, want an error naming the field \"scope\" and not the token", err)
	}
}

// TestConfigFileByItsName runs the CLI where a file named just "flowhist"
// lies beside flowhist.yaml (the binary, built in place): the yaml is read,
// the binary is not taken for a config file.
func TestConfigFileByItsName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("flowhist", []byte("\x7fELF\x02\x01\x01\x00binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "token"); code != 0 || len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("with no config file: got exit %d, %q %q", code, out, errOut)
	}
	if err := os.WriteFile("flowhist.yaml", []byte("valkey:\n  addr: 127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "verify", "-n", "x")
	if code != exitUnavailable || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("got exit %d, stderr %q; want %d naming 127.0.0.1:1 from flowhist.yaml", code, errOut, exitUnavailable)
	}
}

// TestTokenAssertUsers: assert_users is read from a file and from
// FLOWHIST_AUTH_TOKENS, and is off unless set.
func TestTokenAssertUsers(t *testing.T) {
	file := t.TempDir() + "/flowhist.yaml"
	yaml := "auth:\n  tokens:\n" +
		"    - {name: nr-admin, token: 0123456789abcdef0123, scopes: [deploy], namespaces: [\"*\"], assert_users: true}\n" +
		"    - {name: workers, token: fedcba98765432100123, scopes: [read], namespaces: [\"*\"]}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	setDefaults(v)
	c, err := readServeConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.API.Tokens) != 2 || !c.API.Tokens[0].AssertUsers || c.API.Tokens[1].AssertUsers {
		t.Fatalf("got tokens %+v, want assert_users on nr-admin only", c.API.Tokens)
	}
	t.Setenv("FLOWHIST_AUTH_TOKENS", `[{"name":"nr-admin","token":"0123456789abcdef0123","scopes":["deploy"],"namespaces":["*"],"assert_users":true}]`)
	v = viper.New()
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	if c, err = readServeConfig(v); err != nil || len(c.API.Tokens) != 1 || !c.API.Tokens[0].AssertUsers {
		t.Fatalf("got %+v, %v; want assert_users from FLOWHIST_AUTH_TOKENS", c.API.Tokens, err)
	}
}

// TestTokenRingsConfig: auth.tokens[].rings is read from a file and from
// FLOWHIST_AUTH_TOKENS; a malformed glob stops serve naming the entry.
func TestTokenRingsConfig(t *testing.T) {
	const good = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	c, err := readConfigText(t, "auth:\n  tokens:\n    - {name: edge, token: \""+good+"\", scopes: [read], namespaces: [\"*\"], workers: [\"edge-*\"], rings: [default, \"eu-*\"]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.API.Tokens) != 1 || strings.Join(c.API.Tokens[0].Rings, ",") != "default,eu-*" {
		t.Fatalf("got tokens %+v, want rings default and eu-*", c.API.Tokens)
	}
	file := filepath.Join(t.TempDir(), "flowhist.yaml")
	os.WriteFile(file, []byte("auth:\n  tokens:\n    - {name: edge, token: \""+good+"\", scopes: [read], namespaces: [\"*\"], workers: [e1], rings: [\"[\"]}\n"), 0o600)
	code, out, errOut := run(t, "serve", "--config", file)
	if code == 0 || !strings.Contains(errOut, "rings entry") || strings.Contains(out+errOut, good) {
		t.Fatalf("got exit %d, %q %q, want a failure naming the rings entry without the token", code, out, errOut)
	}
	t.Setenv("FLOWHIST_AUTH_TOKENS", `[{"name":"edge","token":"`+good+`","scopes":["read"],"namespaces":["*"],"workers":["e1"],"rings":["canary"]}]`)
	v := viper.New()
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	if c, err = readServeConfig(v); err != nil || len(c.API.Tokens) != 1 || strings.Join(c.API.Tokens[0].Rings, ",") != "canary" {
		t.Fatalf("from the environment: got %+v, %v; want ring canary", c.API.Tokens, err)
	}
}
