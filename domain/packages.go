package domain

import (
	"encoding/json"
	"slices"
	"strings"
)

// PackagesFromSettings lists the user-installed node modules in the settings' node
// registry ("nodes": {module: {version, user: true, …}}), sorted by name, at
// the version on the admin's disk: pending_version after an upgrade that
// waits for a restart (the version workers install). It
// reports false when the settings have no registry (or an unreadable one):
// then they say nothing about packages.
func PackagesFromSettings(settings []byte) ([]Package, bool) {
	var s struct {
		Nodes map[string]struct {
			Version        string `json:"version"`
			PendingVersion string `json:"pending_version"`
			User           bool   `json:"user"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(settings, &s); err != nil || s.Nodes == nil {
		return nil, false
	}
	out := []Package{}
	for name, m := range s.Nodes {
		if m.User {
			v := m.Version
			if m.PendingVersion != "" {
				v = m.PendingVersion
			}
			out = append(out, Package{Name: name, Version: v})
		}
	}
	slices.SortFunc(out, func(a, b Package) int { return strings.Compare(a.Name, b.Name) })
	return out, true
}
