package domain_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

// TestNamespaceNamesShared checks ValidateNamespace against the names the
// Node-RED module's copy of the rule is tested with
// (node-red/test/testdata/names.json), so the two copies cannot drift apart
// unnoticed from either side.
func TestNamespaceNamesShared(t *testing.T) {
	b, err := os.ReadFile("../node-red/test/testdata/names.json")
	if err != nil {
		t.Fatal(err)
	}
	var names struct {
		Valid   []string `json:"valid"`
		Invalid []string `json:"invalid"`
	}
	if err := json.Unmarshal(b, &names); err != nil {
		t.Fatal(err)
	}
	if len(names.Valid) == 0 || len(names.Invalid) == 0 {
		t.Fatalf("names.json has %d valid and %d invalid names, want some of each", len(names.Valid), len(names.Invalid))
	}
	for _, n := range names.Valid {
		if err := domain.ValidateNamespace(n); err != nil {
			t.Errorf("ValidateNamespace(%q) = %v, want nil (names.json says valid)", n, err)
		}
	}
	for _, n := range names.Invalid {
		if err := domain.ValidateNamespace(n); err == nil {
			t.Errorf("ValidateNamespace(%q) = nil, want an error (names.json says invalid)", n)
		}
	}
}
