package usecase

import (
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func TestPackagesKey(t *testing.T) {
	long := strings.Repeat("k", maxIdempotencyKey)
	tests := []struct {
		name, key, want string
	}{
		{"NoKeyNoKey", "", ""},
		{"Suffixed", "deploy-7", "deploy-7:packages"},
		{"LongestThatFits", long[:maxIdempotencyKey-len(":packages")], long[:maxIdempotencyKey-len(":packages")] + ":packages"},
		{"TooLongHashed", long[:maxIdempotencyKey-len(":packages")+1], domain.SHA256Hex([]byte(long[:maxIdempotencyKey-len(":packages")+1])) + ":packages"},
		{"LongestKeyHashed", long, domain.SHA256Hex([]byte(long)) + ":packages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := packagesKey(tt.key)
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if len(got) > maxIdempotencyKey {
				t.Fatalf("got a key of %d bytes, over the store's %d", len(got), maxIdempotencyKey)
			}
		})
	}
}
