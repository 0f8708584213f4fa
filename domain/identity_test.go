package domain_test

import (
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func TestAttribute(t *testing.T) {
	t.Parallel()
	admin := &domain.Credential{Name: "nr-admin", AssertUsers: true}
	worker := &domain.Credential{Name: "worker-1"}
	for _, tt := range []struct {
		name       string
		cred       *domain.Credential
		user, want string
		code       string
	}{
		{"OKNoUserIsTokenName", worker, "", "worker-1", ""},
		{"OKOwnName", worker, "worker-1", "worker-1", ""},
		{"OKAssertingNamesUser", admin, "alice", "alice", ""},
		{"OKAssertingNoUser", admin, "", "nr-admin", ""},
		{"OKAuthDisabled", nil, "alice", "alice", ""},
		{"OKAuthDisabledNoUser", nil, "", "", ""},
		{"ErrForbiddenOtherUser", worker, "alice", "", domain.EFORBIDDEN},
		{"ErrForbiddenCaseMatters", worker, "Worker-1", "", domain.EFORBIDDEN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.Attribute(tt.cred, tt.user)
			if domain.ErrorCode(err) != tt.code || got != tt.want {
				t.Fatalf("got %q, %v; want %q, code %q", got, err, tt.want, tt.code)
			}
		})
	}
}
