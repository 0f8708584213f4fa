package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesTokens is issue 19's findings 3 and 5 at start: a
// placeholder or weak token, and a configuration where no token may act as
// a worker, are refused with a line naming the entry and what to add,
// never the secret.
func TestServeRefusesTokens(t *testing.T) {
	const good = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	entry := func(name, token, extra string) string {
		return "    - {name: " + name + ", token: \"" + token + "\", scopes: [read], namespaces: [\"*\"]" + extra + "}\n"
	}
	for _, tt := range []struct {
		name, tokens, want, secret string
	}{
		{"ErrPlaceholder", entry("admin", "replace-with-openssl-rand-hex-32", ", workers: [\"*\"]"), "entry 1 (admin): the token is the placeholder", "replace-with-openssl-rand-hex-32"},
		{"ErrWeak", entry("ok", good, ", workers: [w1]") + entry("ci", "0123456789abcdef0123", ""), "entry 2 (ci): the token carries about 80 bits", "0123456789abcdef0123"},
		{"ErrNoWorkerBinding", entry("admin", good, "") + entry("workers", good[:48], ""), "auth.tokens[].workers", good},
		{"ErrClientCertWithoutCA", entry("edge", good, ", workers: [e1], client_cert_cn: e1"), "listen_tls.client_ca_file", good},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := readConfigText(t, "auth:\n  tokens:\n"+tt.tokens)
			if err != nil {
				t.Fatal(err)
			}
			err = checkTokens(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("got %q, which shows the secret", err)
			}
		})
	}
	t.Run("OKAuthDisabled", func(t *testing.T) {
		c, err := readConfigText(t, "auth:\n  disabled: true\n")
		if err != nil || checkTokens(c) != nil {
			t.Fatalf("got %v, %v, want no error", err, checkTokens(c))
		}
	})
	t.Run("ServeExitsNamingIt", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "flowhist.yaml")
		os.WriteFile(file, []byte("auth:\n  tokens:\n"+entry("admin", "replace-with-openssl-rand-hex-32", ", workers: [\"*\"]")), 0o600)
		code, out, errOut := run(t, "serve", "--config", file)
		if code == 0 || !strings.Contains(errOut, "admin") || strings.Contains(out+errOut, "replace-with-openssl") {
			t.Fatalf("got exit %d, %q %q, want a failure naming the token admin without its value", code, out, errOut)
		}
	})
}

// TestTokenForWorker checks that flowhist token --worker prints an entry
// serve takes as it is, bound to that worker.
func TestTokenForWorker(t *testing.T) {
	code, out, errOut := run(t, "token", "--worker", "edge-*", "--namespaces", "prod")
	if code != 0 {
		t.Fatalf("got exit %d: %s", code, errOut)
	}
	c, err := readConfigText(t, "auth:\n  tokens:\n"+indent(out, "    "))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTokens(c); err != nil {
		t.Fatalf("got %v, want the entry accepted", err)
	}
	tk := c.API.Tokens[0]
	if len(tk.Workers) != 1 || tk.Workers[0] != "edge-*" || tk.Namespaces[0] != "prod" || tk.Secret != "" || len(tk.SecretSHA256) != 64 {
		t.Fatalf("got %+v, want read over prod as edge-*, by sha256 only", tk)
	}
	if code, _, _ := run(t, "token", "--worker", "bad id"); code == 0 {
		t.Error("token --worker 'bad id': got exit 0, want a failure")
	}
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}
