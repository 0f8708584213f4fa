package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/projector"
	"github.com/spf13/viper"
)

// readConfigText reads a serve config file with text as serve does.
func readConfigText(t *testing.T, text string) (serveConfig, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "flowhist.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	setDefaults(v)
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	return readServeConfig(v)
}

func TestCompatConfig(t *testing.T) {
	t.Run("NamespaceWithCapitalsKeptAsWritten", func(t *testing.T) {
		c, err := readConfigText(t, `
compat:
  - namespace: Prod
    prefix: "nodered:"
    compress: true
  - namespace: prod
    prefix: "lower:"
  - namespace: "*"
    prefix: "all:"
    update_channel: "u"
    package_channel: "p"
`)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]projector.Compat{
			"Prod": {Prefix: "nodered:", Compress: true},
			"prod": {Prefix: "lower:"},
			"*":    {Prefix: "all:", UpdateChannel: "u", PackageChannel: "p"},
		}
		if len(c.Projector.Compat) != len(want) {
			t.Fatalf("got compat %+v, want %+v", c.Projector.Compat, want)
		}
		for ns, w := range want {
			if got := c.Projector.Compat[ns]; got != w {
				t.Fatalf("got compat[%q] %+v, want %+v", ns, got, w)
			}
		}
	})

	t.Run("EmptyIsNone", func(t *testing.T) {
		for _, text := range []string{"compat: []\n", "compat: {}\n", "listen: 127.0.0.1:8080\n"} {
			c, err := readConfigText(t, text)
			if err != nil || len(c.Projector.Compat) != 0 {
				t.Fatalf("%q: got %+v, %v; want no compat", text, c.Projector.Compat, err)
			}
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, c := range []struct{ name, text, want string }{
			{"OldMapForm", "compat:\n  Prod:\n    prefix: \"nodered:\"\n", "use a list"},
			{"NoNamespace", "compat:\n  - prefix: \"nodered:\"\n", "entry 1 has no namespace"},
			{"BadNamespace", "compat:\n  - namespace: \"has space\"\n", "entry 1"},
			{"Duplicate", "compat:\n  - namespace: Prod\n  - namespace: Prod\n", `namespace "Prod" has two entries`},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := readConfigText(t, c.text)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("got %v, want an error containing %q", err, c.want)
				}
			})
		}
	})
}
