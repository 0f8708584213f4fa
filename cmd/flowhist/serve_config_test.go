package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

// TestExampleConfigIsTheDefaults keeps flowhist.example.yaml honest: read as
// a config file, it must give exactly the configuration of no file at all.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	read := func(file string) serveConfig {
		t.Helper()
		v := viper.New()
		setValkeyDefaults(v)
		serveDefaults(v)
		if file != "" {
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
}

func TestTokensFromEnvironment(t *testing.T) {
	t.Setenv("FLOWHIST_AUTH_TOKENS", `[{"name":"admin","token":"0123456789abcdef0123","scopes":["admin"],"namespaces":["*"]}]`)
	v := viper.New()
	v.SetEnvPrefix("FLOWHIST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	setValkeyDefaults(v)
	serveDefaults(v)
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
}
