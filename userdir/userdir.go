package userdir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/flowhist/flowhist/domain"
)

// UserDir is what a Node-RED userDir holds for flowhist, as read by Read
// and written by Write. Paths are relative to the userDir.
type UserDir struct {
	// FlowFile is the flow file: the active project's, settings.js's
	// flowFile, flows.json or flows_<host>.json.
	FlowFile string
	// Flows is the flow file's content ("[]" for an empty file).
	Flows []byte
	// CredentialsFile is the flow file's credentials file: the project's
	// credentialsFile, else the flow file's name with _cred.
	CredentialsFile string
	// Credentials is its content as it is (encrypted), nil if none.
	Credentials []byte
	// Runtime is .config.runtime.json; Nodes, Users and Projects are
	// .config.nodes.json, .config.users.json and .config.projects.json,
	// each a JSON object, nil where the file is absent.
	Runtime, Nodes, Users, Projects json.RawMessage
	// ActiveProject is .config.projects.json's activeProject, "" if none.
	ActiveProject string
	// Library is lib/, sorted by type and path.
	Library []LibraryFile
}

// LibraryFile is one entry of the file library, lib/<type>/<path>.
type LibraryFile struct {
	// File is its path, for messages.
	File  string
	Entry domain.LibraryEntry
}

// settingsFlowFile finds `flowFile: "…"` in a settings.js: Node-RED's
// settings are JavaScript, which is not run.
var settingsFlowFile = regexp.MustCompile(`(?m)^\s*flowFile\s*:\s*["']([^"']+)["']`)

// Read reads the Node-RED userDir dir as its file storage keeps it; the
// flow file is flowFile if set, else the one Node-RED would use. Nothing
// outside dir is read: a symlink that resolves outside it, and a path taken
// from a file's content (activeProject, a project's flowFile or
// credentialsFile, settings.js's flowFile) that is absolute or has a ".."
// element, are refused with a message naming the file. Errors: EINVALID
// (not a directory, a file that is not what it should be or leads outside
// dir, several candidate flow files), ENOTFOUND (no flow file).
func Read(dir, flowFile string) (*UserDir, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, domain.Errorf(domain.EINVALID, "--from-userdir %s: not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "--from-userdir %s: %v", dir, err)
	}
	defer root.Close()
	read := func(name string) ([]byte, error) {
		b, err := readInside(dir, root, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	readObject := func(name string) (json.RawMessage, error) {
		b, err := read(name)
		if err != nil || b == nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: not a JSON object", filepath.Join(dir, name))
		}
		return b, nil
	}
	u := &UserDir{}
	if u.Projects, err = readObject(".config.projects.json"); err != nil {
		return nil, err
	}
	if u.Projects != nil {
		var p struct {
			ActiveProject string `json:"activeProject"`
		}
		json.Unmarshal(u.Projects, &p)
		u.ActiveProject = p.ActiveProject
		if err := domain.ValidateProjectName(u.ActiveProject); u.ActiveProject != "" && err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: activeProject: %s", filepath.Join(dir, ".config.projects.json"), domain.ErrorMessage(err))
		}
	}
	switch {
	case flowFile != "":
		u.FlowFile = flowFile
	case u.ActiveProject != "":
		pdir := filepath.Join("projects", u.ActiveProject)
		st, err := root.Stat(pdir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			if _, err := readInside(dir, root, filepath.Join(pdir, "package.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if err != nil || !st.IsDir() {
			return nil, domain.Errorf(domain.EINVALID, "%s: the active project %q has no directory %s", filepath.Join(dir, ".config.projects.json"), u.ActiveProject, filepath.Join(dir, pdir))
		}
		ff, cf := "flow.json", ""
		pkgFile := filepath.Join(pdir, "package.json")
		pkg, err := read(pkgFile)
		if err != nil {
			return nil, err
		}
		if pkg != nil {
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
			for field, v := range map[string]string{"flowFile": ff, "credentialsFile": cf} {
				if err := relativeInside(v); err != nil {
					return nil, domain.Errorf(domain.EINVALID, "%s: node-red.settings.%s %s", filepath.Join(dir, pkgFile), field, err)
				}
			}
		}
		u.FlowFile = filepath.Join(pdir, ff)
		if cf != "" {
			u.CredentialsFile = filepath.Join(pdir, cf)
		}
	default:
		js, err := read("settings.js")
		if err != nil {
			return nil, err
		}
		if m := settingsFlowFile.FindSubmatch(js); m != nil {
			u.FlowFile = string(m[1])
			if err := relativeInside(u.FlowFile); err != nil {
				return nil, domain.Errorf(domain.EINVALID, "%s: flowFile %s (use --flow-file NAME)", filepath.Join(dir, "settings.js"), err)
			}
		}
		if u.FlowFile == "" {
			if u.FlowFile, err = findFlowFile(dir); err != nil {
				return nil, err
			}
		}
	}
	if u.CredentialsFile == "" {
		u.CredentialsFile = credentialsFile(u.FlowFile)
	}
	if u.Flows, err = read(u.FlowFile); err != nil {
		return nil, err
	}
	if u.Flows == nil {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s: no such flow file (use --flow-file NAME)", filepath.Join(dir, u.FlowFile))
	}
	if len(bytes.TrimSpace(u.Flows)) == 0 {
		u.Flows = []byte("[]") // Node-RED reads an empty flow file as no flows
	}
	if u.Credentials, err = read(u.CredentialsFile); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		into *json.RawMessage
	}{{".config.runtime.json", &u.Runtime}, {".config.nodes.json", &u.Nodes}, {".config.users.json", &u.Users}} {
		if *f.into, err = readObject(f.name); err != nil {
			return nil, err
		}
	}
	if u.Library, err = readLibDir(dir, root); err != nil {
		return nil, err
	}
	return u, nil
}

// relativeInside refuses a path read from a file's content that could
// name something outside the userDir: absolute, or with a ".." element.
// The message completes "<file>: <field> ".
func relativeInside(p string) error {
	if p == "" {
		return nil
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.VolumeName(p) != "" {
		return fmt.Errorf("%q is an absolute path: refused, a path from a file must stay inside the userDir", p)
	}
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return fmt.Errorf("%q has a \"..\" element: refused, a path from a file must stay inside the userDir", p)
		}
	}
	return nil
}

// readInside reads name in dir through root, which refuses whatever
// leads outside dir; an absolute symlink, which root refuses too, is read
// when it resolves inside dir. Errors: fs.ErrNotExist as it is; EINVALID,
// one line naming the file (and saying when it leads outside dir).
func readInside(dir string, root *os.Root, name string) ([]byte, error) {
	b, err := root.ReadFile(name)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	p := filepath.Join(dir, name)
	if real, rerr := filepath.EvalSymlinks(p); rerr == nil {
		if base, berr := filepath.EvalSymlinks(dir); berr == nil {
			rel, _ := filepath.Rel(base, real)
			if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return nil, domain.Errorf(domain.EINVALID, "%s: a symlink to %s, outside the userDir: refused (copy the file in instead)", p, real)
			}
			if b, err = os.ReadFile(real); err == nil {
				return b, nil
			}
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return nil, domain.Errorf(domain.EINVALID, "%s: %v", p, err)
}

// credentialsFile is the credentials file of flowFile: its name with
// _cred before the extension.
func credentialsFile(flowFile string) string {
	ext := filepath.Ext(flowFile)
	return strings.TrimSuffix(flowFile, ext) + "_cred" + ext
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

// Write writes u into the userDir dir as Node-RED's file storage would:
// the flow and credentials files (CredentialsFile defaults as Read's),
// the .config.*.json files that are set, and the library. Errors:
// EINTERNAL.
func Write(dir string, u *UserDir) error {
	credFile := u.CredentialsFile
	if credFile == "" {
		credFile = credentialsFile(u.FlowFile)
	}
	files := []File{{u.FlowFile, u.Flows}, {credFile, u.Credentials},
		{".config.runtime.json", u.Runtime}, {".config.nodes.json", u.Nodes}, {".config.users.json", u.Users}, {".config.projects.json", u.Projects}}
	for _, l := range u.Library {
		files = append(files, File{filepath.Join("lib", l.Entry.Type, filepath.FromSlash(l.Entry.Path)), libFile(l.Entry)})
	}
	for _, f := range files {
		if f.Data == nil {
			continue
		}
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return domain.Errorf(domain.EINTERNAL, "create %s: %v", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return domain.Errorf(domain.EINTERNAL, "write %s: %v", p, err)
		}
	}
	return nil
}

// readLibDir reads Node-RED's file library, dir/lib/<type>/<path>, through
// root: a flows entry is its file; any other starts with "// key: value"
// meta lines, as Node-RED's localfilesystem library writes them. A symlink
// is followed only while it stays inside dir.
func readLibDir(dir string, root *os.Root) ([]LibraryFile, error) {
	if _, err := root.Lstat("lib"); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []LibraryFile
	err := fs.WalkDir(root.FS(), "lib", func(rel string, d fs.DirEntry, err error) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err != nil {
			if _, rerr := readInside(dir, root, filepath.FromSlash(rel)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				return rerr // names a symlink that leads outside
			}
			return domain.Errorf(domain.EINVALID, "%s: %v", p, err)
		}
		if d.IsDir() || !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		parts := strings.SplitN(strings.TrimPrefix(rel, "lib/"), "/", 2)
		if len(parts) != 2 {
			return nil // a file directly in lib/ is no entry
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := root.Stat(filepath.FromSlash(rel)); err == nil && st.IsDir() {
				return nil // a symlinked directory is not walked, as before
			}
		}
		b, err := readInside(dir, root, filepath.FromSlash(rel))
		if err != nil {
			return err
		}
		e := domain.LibraryEntry{Type: parts[0], Path: parts[1]}
		if e.Type == "flows" {
			e.Meta, e.Body = json.RawMessage("{}"), string(b)
		} else {
			meta, body := libFileParts(string(b))
			e.Meta, _ = json.Marshal(meta)
			e.Body = body
		}
		out = append(out, LibraryFile{File: p, Entry: e})
		return nil
	})
	slices.SortFunc(out, func(a, b LibraryFile) int {
		return strings.Compare(a.Entry.Type+"/"+a.Entry.Path, b.Entry.Type+"/"+b.Entry.Path)
	})
	return out, err
}
