package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/flowhist/flowhist/domain"
)

// settingsFlowFile finds `flowFile: "…"` in a settings.js: Node-RED's
// settings are JavaScript, which import does not run.
var settingsFlowFile = regexp.MustCompile(`(?m)^\s*flowFile\s*:\s*["']([^"']+)["']`)

// readUserDirSource reads a Node-RED userDir as its file storage keeps it.
func readUserDirSource(dir, flowFile string) (*importSource, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, domain.Errorf(domain.EINVALID, "--from-userdir %s: not a directory", dir)
	}
	src := &importSource{desc: "userdir " + dir}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", filepath.Join(dir, name), err)
		}
		return b, nil
	}
	readObject := func(name string) (map[string]json.RawMessage, []byte, error) {
		b, err := read(name)
		if err != nil || b == nil {
			return nil, nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			return nil, nil, domain.Errorf(domain.EINVALID, "%s: not a JSON object", filepath.Join(dir, name))
		}
		return m, b, nil
	}

	// The active project, if Projects are on.
	projects, projectsRaw, err := readObject(".config.projects.json")
	if err != nil {
		return nil, err
	}
	var active string
	if projects != nil {
		json.Unmarshal(projects["activeProject"], &active)
	}
	flowPath, credPath := "", ""
	switch {
	case flowFile != "":
		flowPath = flowFile
	case active != "":
		pdir := filepath.Join("projects", active)
		if st, err := os.Stat(filepath.Join(dir, pdir)); err != nil || !st.IsDir() {
			return nil, domain.Errorf(domain.EINVALID, "%s: the active project %q has no directory %s", filepath.Join(dir, ".config.projects.json"), active, filepath.Join(dir, pdir))
		}
		ff, cf := "flow.json", ""
		if pkg, err := read(filepath.Join(pdir, "package.json")); err == nil && pkg != nil {
			var p struct {
				NodeRED struct {
					Settings struct {
						FlowFile        string `json:"flowFile"`
						CredentialsFile string `json:"credentialsFile"`
					} `json:"settings"`
				} `json:"node-red"`
			}
			if json.Unmarshal(pkg, &p) == nil && p.NodeRED.Settings.FlowFile != "" {
				ff, cf = p.NodeRED.Settings.FlowFile, p.NodeRED.Settings.CredentialsFile
			}
		}
		flowPath = filepath.Join(pdir, ff)
		if cf != "" {
			credPath = filepath.Join(pdir, cf)
		}
	default:
		if js, _ := read("settings.js"); js != nil {
			if m := settingsFlowFile.FindSubmatch(js); m != nil {
				flowPath = string(m[1])
			}
		}
		if flowPath == "" {
			if flowPath, err = findFlowFile(dir); err != nil {
				return nil, err
			}
		}
	}
	if credPath == "" {
		ext := filepath.Ext(flowPath)
		credPath = strings.TrimSuffix(flowPath, ext) + "_cred" + ext
	}
	doc, err := read(flowPath)
	if err != nil {
		return nil, err
	}
	where := filepath.Join(dir, flowPath)
	if doc == nil {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s: no such flow file (use --flow-file NAME)", where)
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		doc = []byte("[]") // Node-RED reads an empty flow file as no flows
	}
	flows, err := checkFlows(where, doc)
	if err != nil {
		return nil, err
	}
	creds, err := read(credPath)
	if err != nil {
		return nil, err
	}
	if creds != nil {
		if creds, err = checkObject(filepath.Join(dir, credPath), "credentials", creds); err != nil {
			return nil, err
		}
	}
	src.desc += " " + flowPath
	src.items = append(src.items, deployItem(flows.Bytes(), creds, flowsWhat(flows, creds), ""))

	// The settings: .config.runtime.json and the sections Node-RED keeps in
	// files of their own.
	runtime, _, err := readObject(".config.runtime.json")
	if err != nil {
		return nil, err
	}
	settings := map[string]json.RawMessage{}
	for k, v := range runtime {
		if k == domain.CredentialSecretKey {
			src.note("%s holds a generated _credentialSecret: not imported; unless settings.js sets credentialSecret, the credentials are encrypted with it, so set credentialSecret to that value in every instance's settings.js", filepath.Join(dir, ".config.runtime.json"))
			continue
		}
		settings[k] = v
	}
	for section, file := range map[string]string{"nodes": ".config.nodes.json", "users": ".config.users.json"} {
		m, raw, err := readObject(file)
		if err != nil {
			return nil, err
		}
		if m != nil {
			settings[section] = json.RawMessage(raw)
		}
	}
	if projectsRaw != nil {
		settings["projects"] = json.RawMessage(projectsRaw)
	}
	if len(settings) > 0 {
		b, _ := json.Marshal(settings)
		it, err := settingsSource(filepath.Join(dir, ".config.*.json"), b)
		if err != nil {
			return nil, err
		}
		src.items = append(src.items, it)
	}

	lib, err := readLibDir(filepath.Join(dir, "lib"))
	if err != nil {
		return nil, err
	}
	for _, e := range lib {
		src.items = append(src.items, libraryItem(e, ""))
	}
	if active != "" {
		src.items = append(src.items, projectItem(active, ""))
	}
	return src, nil
}

// findFlowFile picks the flow file Node-RED would use without a flowFile
// setting: flows.json, else flows_<hostname>.json, else the only
// flows_*.json there is.
func findFlowFile(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, "flows.json")); err == nil {
		return "flows.json", nil
	}
	if h, err := os.Hostname(); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "flows_"+h+".json")); err == nil {
			return "flows_" + h + ".json", nil
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "flows_*.json"))
	var found []string
	for _, m := range matches {
		if !strings.HasSuffix(m, "_cred.json") {
			found = append(found, filepath.Base(m))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", domain.Errorf(domain.ENOTFOUND, "%s: no flow file (looked for flows.json, flows_<host>.json and settings.js's flowFile; use --flow-file NAME)", dir)
	}
	return "", domain.Errorf(domain.EINVALID, "%s: several flow files (%s): choose one with --flow-file NAME", dir, strings.Join(found, ", "))
}

// readLibDir reads Node-RED's file library, lib/<type>/<path>: a flows
// entry is its file; any other starts with "// key: value" meta lines, as
// Node-RED's localfilesystem library writes them.
func readLibDir(root string) ([]domain.LibraryEntry, error) {
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []domain.LibraryEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return domain.Errorf(domain.EINVALID, "%s: %v", p, err)
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.SplitN(filepath.ToSlash(rel), "/", 2)
		if len(parts) != 2 {
			return nil // a file directly in lib/ is no entry
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return domain.Errorf(domain.EINVALID, "%s: %v", p, err)
		}
		e := domain.LibraryEntry{Type: parts[0], Path: parts[1]}
		if e.Type == "flows" {
			e.Meta, e.Body = json.RawMessage("{}"), string(b)
		} else {
			meta, body := libFileParts(string(b))
			e.Meta, _ = json.Marshal(meta)
			e.Body = body
		}
		if err := checkLibrary(p, e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	slices.SortFunc(out, func(a, b domain.LibraryEntry) int { return strings.Compare(a.Type+"/"+a.Path, b.Type+"/"+b.Path) })
	return out, err
}

var libMetaLine = regexp.MustCompile(`^// (\w+): (.*)`)

// libFileParts splits a library file as Node-RED's getFileMeta and
// getFileBody do.
func libFileParts(data string) (map[string]string, string) {
	meta := map[string]string{}
	lines := strings.Split(data, "\n")
	i := 0
	for ; i < len(lines); i++ {
		m := libMetaLine.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		meta[m[1]] = fromSingleLine(m[2])
	}
	return meta, strings.Join(lines[i:], "\n")
}

func fromSingleLine(s string) string {
	return regexp.MustCompile(`\\[\\n]`).ReplaceAllStringFunc(s, func(m string) string {
		if m == `\\` {
			return `\`
		}
		return "\n"
	})
}
