package main

import (
	"encoding/json"
	"path/filepath"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/userdir"
)

// readUserDirSource reads a Node-RED userDir (userdir.Read) and turns it
// into items: the flows with their credentials, the settings Node-RED
// keeps in files of their own, the library and the active project.
func readUserDirSource(dir, flowFile string) (*importSource, error) {
	u, err := userdir.Read(dir, flowFile)
	if err != nil {
		return nil, err
	}
	flows, err := checkFlows(filepath.Join(dir, u.FlowFile), u.Flows)
	if err != nil {
		return nil, err
	}
	creds := u.Credentials
	if creds != nil {
		if creds, err = checkObject(filepath.Join(dir, u.CredentialsFile), "credentials", creds); err != nil {
			return nil, err
		}
	}
	src := &importSource{desc: "userdir " + dir + " " + u.FlowFile}
	src.items = append(src.items, deployItem(flows.Bytes(), creds, flowsWhat(flows, creds), ""))

	// The settings: .config.runtime.json and the sections Node-RED keeps in
	// files of their own.
	var runtime map[string]json.RawMessage
	json.Unmarshal(u.Runtime, &runtime)
	settings := map[string]json.RawMessage{}
	for k, v := range runtime {
		if k == domain.CredentialSecretKey {
			src.note("%s holds a generated _credentialSecret: not imported; unless settings.js sets credentialSecret, the credentials are encrypted with it, so set credentialSecret to that value in every instance's settings.js", filepath.Join(dir, ".config.runtime.json"))
			continue
		}
		settings[k] = v
	}
	for section, raw := range map[string]json.RawMessage{"nodes": u.Nodes, "users": u.Users, "projects": u.Projects} {
		if raw != nil {
			settings[section] = raw
		}
	}
	if len(settings) > 0 {
		b, _ := json.Marshal(settings)
		it, err := settingsSource(src, filepath.Join(dir, ".config.*.json"), b)
		if err != nil {
			return nil, err
		}
		src.items = append(src.items, it)
	}
	for _, l := range u.Library {
		if err := checkLibrary(l.File, l.Entry); err != nil {
			return nil, err
		}
		src.items = append(src.items, libraryItem(l.Entry, ""))
	}
	if u.ActiveProject != "" {
		src.items = append(src.items, projectItem(u.ActiveProject, ""))
	}
	return src, nil
}
