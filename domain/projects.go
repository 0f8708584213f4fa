package domain

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// ValidateProjectName checks a Node-RED project name that will become a
// directory under the admin's userDir (projects/<name>): one path element,
// not "." or "..", no separator or control character. Errors: EINVALID.
func ValidateProjectName(name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "the project name is empty")
	case len(name) > 200:
		return Errorf(EINVALID, "the project name is longer than 200 bytes")
	case name == "." || name == "..":
		return Errorf(EINVALID, "project name %q is not a directory name", name)
	case strings.ContainsAny(name, `/\`+":"):
		return Errorf(EINVALID, "project name %q has a path separator: a project is one directory under projects/", name)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return Errorf(EINVALID, "project name %q has a control character", name)
		}
	}
	return nil
}

// StripProjectSecrets returns the settings document doc without any
// secret-like key (credentialSecret, password, token …) at any depth under
// its "projects" section, and the dotted paths of those removed, sorted
// ("projects.projects.p1.credentialSecret"). A project's credentialSecret
// stays on the admin, as the Node-RED module keeps it: in flowhist every
// read token could read it, and the log would keep it forever. It also
// checks the section's activeProject (ValidateProjectName). doc is
// returned as it is when nothing is removed. Errors: EINVALID.
func StripProjectSecrets(doc []byte) ([]byte, []string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, nil, Errorf(EINVALID, "settings are not a JSON object")
	}
	raw, ok := top["projects"]
	if !ok {
		return doc, nil, nil
	}
	var projects any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&projects); err != nil {
		return nil, nil, Errorf(EINVALID, "settings.projects is not JSON")
	}
	if m, ok := projects.(map[string]any); ok {
		if a, ok := m["activeProject"].(string); ok && a != "" {
			if err := ValidateProjectName(a); err != nil {
				return nil, nil, Errorf(EINVALID, "activeProject: %s", ErrorMessage(err))
			}
		}
	}
	var removed []string
	stripSecrets(projects, "projects", &removed)
	if len(removed) == 0 {
		return doc, nil, nil
	}
	sort.Strings(removed)
	top["projects"], _ = json.Marshal(projects)
	out, err := json.Marshal(top)
	if err != nil {
		return nil, nil, Errorf(EINVALID, "settings: %v", err)
	}
	return out, removed, nil
}

func stripSecrets(v any, path string, removed *[]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if secretKey.MatchString(k) {
				delete(t, k)
				*removed = append(*removed, path+"."+k)
				continue
			}
			stripSecrets(x, path+"."+k, removed)
		}
	case []any:
		for _, x := range t {
			stripSecrets(x, path+"[]", removed)
		}
	}
}
