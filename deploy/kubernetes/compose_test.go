package kubernetes_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestComposeSafeAsShipped holds docker-compose.yml to what the manifests
// promise: every secret comes from .env (compose refuses to start without
// it), every pulled image is pinned by digest, every port is published on
// loopback only, and every container is read-only without capabilities.
func TestComposeSafeAsShipped(t *testing.T) {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `json:"image"`
			Build       any               `json:"build"`
			ReadOnly    bool              `json:"read_only"`
			CapDrop     []string          `json:"cap_drop"`
			SecurityOpt []string          `json:"security_opt"`
			Environment map[string]string `json:"environment"`
			Ports       []string          `json:"ports"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	if len(compose.Services) == 0 {
		t.Fatal("no services")
	}
	required := regexp.MustCompile(`^\$\{[A-Z_]+:\?set [A-Z_]+ in \.env[^}]*\}$`)
	token := regexp.MustCompile(`"token":"([^"]*)"`)
	secretish := regexp.MustCompile(`(?i)token|password|secret|passwd|hash|auth`)
	for name, s := range compose.Services {
		if s.Build == nil && !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned by digest", name, s.Image)
		}
		if !s.ReadOnly || len(s.CapDrop) != 1 || s.CapDrop[0] != "ALL" || !strings.Contains(strings.Join(s.SecurityOpt, ","), "no-new-privileges:true") {
			t.Errorf("%s: want read_only, cap_drop [ALL] and no-new-privileges", name)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every interface, want 127.0.0.1 only", name, p)
			}
		}
		for k, v := range s.Environment {
			switch {
			case k == "FLOWHIST_AUTH_TOKENS":
				for _, m := range token.FindAllStringSubmatch(v, -1) {
					if !required.MatchString(m[1]) {
						t.Errorf("%s: a token in %s is %q, want ${VAR:?set VAR in .env …}", name, k, m[1])
					}
				}
			case k == "NODE_RED_ADMIN_PASSWORD_HASH":
				if v != "${NODE_RED_ADMIN_PASSWORD_HASH:-}" {
					t.Errorf("%s: %s is %q, want it from .env or unset (a one-time password is generated)", name, k, v)
				}
			case secretish.MatchString(k) && !required.MatchString(v):
				t.Errorf("%s: %s is %q, want ${VAR:?set VAR in .env …}", name, k, v)
			}
		}
	}
}

// TestDockerfilesPinned: every base image of the two Dockerfiles is pinned
// by digest, with a comment above saying how to update it.
func TestDockerfilesPinned(t *testing.T) {
	for _, f := range []string{"../../Dockerfile", "../../node-red/Dockerfile"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		from := 0
		for i, line := range lines {
			fields := strings.Fields(line)
			if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
				continue
			}
			from++
			if !pinned.MatchString(fields[1]) {
				t.Errorf("%s:%d: base image %q is not pinned by digest", f, i+1, fields[1])
			}
			var comment []string
			for j := i - 1; j >= 0 && strings.HasPrefix(lines[j], "#"); j-- {
				comment = append(comment, lines[j])
			}
			if !strings.Contains(strings.Join(comment, "\n"), "imagetools inspect") {
				t.Errorf("%s:%d: no comment above saying how to update the digest", f, i+1)
			}
		}
		if from == 0 {
			t.Errorf("%s: no FROM", f)
		}
	}
}
