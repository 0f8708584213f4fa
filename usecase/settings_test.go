package usecase_test

import (
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/usecase"
)

// TestSaveSettingsPackages: a settings save implies a packages.changed
// event when, and only when, the user-installed modules changed; a retry
// with the same key appends neither again (nor reports the packages event,
// which is in the state now).
func TestSaveSettingsPackages(t *testing.T) {
	t.Parallel()
	app, ns, ctx := mustApp(t, nil), streamstest.Namespace(t), testCtx(t)
	random := `{"nodes":{"node-red-node-random":{"name":"node-red-node-random","version":"0.4.1","user":true}}}`
	tests := []struct {
		name, settings, key string
		wantRev, wantPkgs   domain.Revision
		wantDuplicate       bool
	}{
		{"FirstModules", random, "k1", 1, 2, false},
		{"RetrySameKey", random, "k1", 1, 0, true}, // the packages say so already
		{"SameModules", `{"nodes":{"node-red-node-random":{"name":"node-red-node-random","version":"0.4.1","user":true}},"editor":{}}`, "k2", 3, 0, false},
		{"NoModulesSaid", `{"editor":{}}`, "", 4, 0, false},
		{"ModuleRemoved", `{"nodes":{}}`, "", 5, 6, false},
	}
	for _, tt := range tests {
		settings, err := domain.CanonicalSettings([]byte(tt.settings))
		if err != nil {
			t.Fatal(err)
		}
		r := req(ns, domain.ExpectAny)
		r.IdempotencyKey = tt.key
		res, err := app.SaveSettings(ctx, usecase.SaveSettings{Request: r, Settings: settings})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Revision != tt.wantRev || res.PackagesRevision != tt.wantPkgs || res.Duplicate != tt.wantDuplicate {
			t.Fatalf("%s: got revision %d, packages %d, duplicate %v; want %d, %d, %v", tt.name,
				res.Revision, res.PackagesRevision, res.Duplicate, tt.wantRev, tt.wantPkgs, tt.wantDuplicate)
		}
	}
}
