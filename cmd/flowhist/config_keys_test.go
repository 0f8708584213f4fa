package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"sigs.k8s.io/yaml"
)

// TestConfigUnknownOption: an option no command reads fails the command,
// naming it and what its section takes, instead of leaving the default in
// force without a word.
func TestConfigUnknownOption(t *testing.T) {
	write := func(t *testing.T, text string) string {
		t.Helper()
		file := filepath.Join(t.TempDir(), "flowhist.yaml")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	for _, tc := range []struct{ name, text, want string }{
		{"MisspeltSentinelOption", "valkey:\n  sentinel:\n    master: mymaster\n    addrs: [\"127.0.0.1:26379\"]\n",
			"unknown option valkey.sentinel.master (valkey.sentinel takes addrs, master_name, password, tls, username)"},
		{"MisspeltSection", "valky:\n  addr: 127.0.0.1:6379\n", "unknown option valky.addr"},
		{"MisspeltTopLevel", "lisen: 127.0.0.1:8080\n", "unknown option lisen"},
		{"NestedTooDeep", "http:\n  request_timeout:\n    seconds: 5\n", "unknown option http.request_timeout.seconds"},
		{"MisspeltSubsection", "valkey:\n  sentinal:\n    master_name: m\n",
			"unknown option valkey.sentinal.master_name (valkey takes addr, cluster, db, dial_timeout, io_timeout, password, sentinel, tls, tls_ca_file, tls_server_name, username)"},
		{"UnknownEmptySection", "valky:\n", "unknown option valky"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkConfigKeys(write(t, tc.text))
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want EINVALID saying %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, text string }{
		{"EveryCommandsOptions", "listen: 127.0.0.1:8080\nvalkey:\n  addr: 127.0.0.1:6379\n  sentinel:\n    master_name: m\ncli:\n  url: http://127.0.0.1:8080\n  namespace: prod\nimport_valkey_password: x\n"},
		{"TokensAndCompatLists", "auth:\n  tokens:\n    - {name: a, token: \"0123456789abcdef0123\", scopes: [admin], namespaces: [\"*\"]}\ncompat:\n  - {namespace: Prod, prefix: \"nodered:\"}\n"},
		{"TheExampleFile", ""},
		// A section whose options are all commented out, as in a copy of
		// the example file.
		{"EmptySections", "valkey:\n  # addr: x\n  sentinel:\n    # master_name: m\ncli:\nstreams:\n  durability: {}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := "flowhist.example.yaml"
			if tc.text != "" {
				file = write(t, tc.text)
			}
			if err := checkConfigKeys(file); err != nil {
				t.Fatalf("got %v, want no error", err)
			}
		})
	}
	// A list entry's unknown field is refused where the list is read.
	for _, tc := range []struct{ name, text, want string }{
		{"CompatEntry", "compat:\n  - {namespace: prod, prefx: \"nodered:\"}\n", "prefx"},
		{"TokenEntry", "auth:\n  tokens:\n    - {name: a, token: \"0123456789abcdef0123\", scope: [admin], namespaces: [\"*\"]}\n", "scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readConfigText(t, tc.text)
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want EINVALID naming %q", err, tc.want)
			}
		})
	}
}

// TestDocConfigSnippets: the flowhist.yaml snippets of the README and the
// docs work when pasted (each read as serve reads its file), with "…" in
// a token filled in as the reader would.
func TestDocConfigSnippets(t *testing.T) {
	top := map[string]bool{}
	{
		v := newKnownOptions()
		for _, k := range v.AllKeys() {
			first, _, _ := strings.Cut(k, ".")
			top[first] = true
		}
	}
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md", "../../deploy/kubernetes/README.md", "../../node-red/README.md")
	block := regexp.MustCompile("(?s)```ya?ml\n(.*?)```")
	checked := 0
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatch(text, -1) {
			var doc map[string]any
			if yaml.Unmarshal(m[1], &doc) != nil || len(doc) == 0 {
				continue
			}
			keys := make([]string, 0, len(doc))
			for k := range doc {
				keys = append(keys, k)
			}
			if !slices.ContainsFunc(keys, func(k string) bool { return top[k] }) {
				continue // not flowhist's config (a manifest, settings.js's options)
			}
			// A placeholder stands for a token, or for a token's sha256
			// (64 hex digits, which serve checks before it starts).
			snippet := strings.ReplaceAll(string(m[1]), `token_sha256: "…"`, `token_sha256: "`+strings.Repeat("0123456789abcdef", 4)+`"`)
			snippet = strings.ReplaceAll(snippet, `"…"`, `"0123456789abcdef0123456789abcdef"`)
			t.Run(filepath.Base(f)+"/"+strings.Join(keys, "+"), func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "flowhist.yaml")
				if err := os.WriteFile(file, []byte(snippet), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := checkConfigKeys(file); err != nil {
					t.Fatalf("%v\n%s", err, snippet)
				}
				c, err := readConfigText(t, snippet)
				if err != nil {
					t.Fatalf("%v\n%s", err, snippet)
				}
				// And serve starts with its tokens.
				if len(c.API.Tokens) > 0 {
					if err := checkTokens(c); err != nil {
						t.Fatalf("%v\n%s", err, snippet)
					}
				}
			})
			checked++
		}
	}
	// docs/migrating.md has two: its serve config and its compat entry.
	if checked < 2 {
		t.Fatalf("checked %d snippets, want at least docs/migrating.md's two", checked)
	}
}
