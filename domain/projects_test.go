package domain_test

import (
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func TestValidateProjectName(t *testing.T) {
	for _, name := range []string{"orders", "my project", "v1.2", "ünïcode"} {
		if err := domain.ValidateProjectName(name); err != nil {
			t.Errorf("%q: got %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, "/abs", "c:x", "a\x00b", "tab\there", strings.Repeat("x", 201)} {
		if err := domain.ValidateProjectName(name); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("%q: got %v, want EINVALID", name, err)
		}
	}
}

func TestStripProjectSecrets(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		removed         []string
		err             bool
	}{
		{"NoProjects", `{"a":1}`, `{"a":1}`, nil, false},
		{"NothingSecret", `{"projects":{"activeProject":"p","projects":{"p":{}}}}`, `{"projects":{"activeProject":"p","projects":{"p":{}}}}`, nil, false},
		{"CredentialSecret", `{"a":1,"projects":{"activeProject":"p","projects":{"p":{"credentialSecret":"s","x":2}}}}`,
			`{"a":1,"projects":{"activeProject":"p","projects":{"p":{"x":2}}}}`, []string{"projects.projects.p.credentialSecret"}, false},
		{"NestedAndInLists", `{"projects":{"projects":{"p":{"remotes":[{"password":"s","url":"u"}],"apiKey":"k"}}}}`,
			`{"projects":{"projects":{"p":{"remotes":[{"url":"u"}]}}}}`, []string{"projects.projects.p.apiKey", "projects.projects.p.remotes[].password"}, false},
		{"SecretOutsideProjectsKept", `{"credentialSecret":"kept-elsewhere","projects":{}}`, `{"credentialSecret":"kept-elsewhere","projects":{}}`, nil, false},
		{"ErrActiveProjectEscapes", `{"projects":{"activeProject":"../../outside/evil"}}`, "", nil, true},
		{"ErrNotObject", `[1]`, "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, removed, err := domain.StripProjectSecrets([]byte(tc.doc))
			if tc.err {
				if domain.ErrorCode(err) != domain.EINVALID {
					t.Fatalf("got %v, want EINVALID", err)
				}
				return
			}
			if err != nil || string(got) != tc.want || strings.Join(removed, ",") != strings.Join(tc.removed, ",") {
				t.Fatalf("got %s %v (%v), want %s %v", got, removed, err, tc.want, tc.removed)
			}
		})
	}
}
