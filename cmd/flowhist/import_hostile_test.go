package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// TestImportFromHostileUserDir: an import reads nothing outside the userDir
// it was given, whatever its files say or link to; each refusal is one
// line naming the file, and nothing is imported.
func TestImportFromHostileUserDir(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	const secret = "outside-secret-must-not-leak"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		links   map[string]string // link in the userDir → target, relative to the test's outside dir ("" : the dir itself)
		want    string
		noFiles bool
	}{
		{"ErrRuntimeSymlinkOutside", map[string]string{"flows.json": `[]`}, map[string]string{".config.runtime.json": "runtime.json"}, ".config.runtime.json: a symlink to", false},
		{"ErrFlowsSymlinkOutside", nil, map[string]string{"flows.json": "flows.json"}, "flows.json: a symlink to", false},
		{"ErrCredentialsSymlinkOutside", map[string]string{"flows.json": `[]`}, map[string]string{"flows_cred.json": "runtime.json"}, "flows_cred.json: a symlink to", false},
		{"ErrLibrarySymlinkOutside", map[string]string{"flows.json": `[]`, "lib/functions/ok.js": "return msg;"}, map[string]string{"lib/functions/evil.js": "runtime.json"}, "evil.js: a symlink to", false},
		{"ErrLibraryDirSymlinkOutside", map[string]string{"flows.json": `[]`}, map[string]string{"lib": ""}, "userdir/lib: a symlink to", false},
		{"ErrProjectDirSymlinkOutside", map[string]string{"flows.json": `[]`, ".config.projects.json": `{"activeProject":"p"}`}, map[string]string{"projects/p": "evilproj"}, "package.json: a symlink to", false},
		{"ErrActiveProjectDotDot", map[string]string{"flows.json": `[]`, ".config.projects.json": `{"activeProject":"../../outside/evilproj"}`}, nil, `.config.projects.json: activeProject: project name "../../outside/evilproj" has a path separator`, false},
		{"ErrActiveProjectAbsolute", map[string]string{"flows.json": `[]`, ".config.projects.json": `{"activeProject":"/tmp"}`}, nil, `.config.projects.json: activeProject: project name "/tmp" has a path separator`, false},
		{"ErrActiveProjectIsDotDot", map[string]string{"flows.json": `[]`, ".config.projects.json": `{"activeProject":".."}`}, nil, `.config.projects.json: activeProject: project name ".." is not a directory name`, false},
		{"ErrProjectFlowFileDotDot", map[string]string{".config.projects.json": `{"activeProject":"p"}`, "projects/p/package.json": `{"node-red":{"settings":{"flowFile":"../../../outside/flows.json"}}}`}, nil, `projects/p/package.json: node-red.settings.flowFile "../../../outside/flows.json" has a ".." element`, false},
		{"ErrProjectFlowFileAbsolute", map[string]string{".config.projects.json": `{"activeProject":"p"}`, "projects/p/package.json": `{"node-red":{"settings":{"flowFile":"/etc/passwd"}}}`}, nil, `projects/p/package.json: node-red.settings.flowFile "/etc/passwd" is an absolute path`, false},
		{"ErrProjectCredentialsFileDotDot", map[string]string{".config.projects.json": `{"activeProject":"p"}`, "projects/p/flow.json": `[]`, "projects/p/package.json": `{"node-red":{"settings":{"flowFile":"flow.json","credentialsFile":"../../../outside/runtime.json"}}}`}, nil, `node-red.settings.credentialsFile "../../../outside/runtime.json" has a ".." element`, false},
		{"ErrSettingsFlowFileDotDot", map[string]string{"settings.js": "module.exports = {\n  flowFile: '../../outside/flows.json',\n}\n"}, nil, `settings.js: flowFile "../../outside/flows.json" has a ".." element`, false},
		{"ErrSettingsFlowFileAbsolute", map[string]string{"settings.js": "module.exports = {\n  flowFile: \"/etc/hostname\",\n}\n"}, nil, `settings.js: flowFile "/etc/hostname" is an absolute path`, false},
		{"ErrSettingsJSSymlinkOutside", nil, map[string]string{"settings.js": "settings.js"}, "settings.js: a symlink to", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// <tmp>/outside holds what must not be read; <tmp>/a/userdir is
			// the userDir, so ../../outside from it is <tmp>/outside.
			tmp := t.TempDir()
			out, dir := filepath.Join(tmp, "outside"), filepath.Join(tmp, "a", "userdir")
			os.MkdirAll(dir, 0o755)
			writeFiles(t, out, map[string]string{
				"runtime.json":               `{"telemetryEnabled":"` + secret + `"}`,
				"flows.json":                 `[{"id":"` + secret + `","type":"tab"}]`,
				"settings.js":                "module.exports = { flowFile: 'flows.json' }\n",
				"evilproj/package.json":      `{"node-red":{"settings":{"flowFile":"flow.json"}}}`,
				"evilproj/flow.json":         `[{"id":"` + secret + `","type":"tab"}]`,
				"functions/x.js":             "return msg;",
				"lib-evil/functions/leak.js": secret,
			})
			if tc.files != nil {
				writeFiles(t, dir, tc.files)
			}
			for link, target := range tc.links {
				p := filepath.Join(dir, link)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if link == "lib" {
					target = "lib-evil"
				}
				if err := os.Symlink(filepath.Join(out, target), p); err != nil {
					t.Fatal(err)
				}
			}
			ns := randomNS(t)
			code, stdout, errOut := run(t, "import", "--from-userdir", dir, "--url", s.URL, "-n", ns)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("got exit %d, stdout %q, stderr %q, want %d and %q", code, stdout, errOut, exitUsage, tc.want)
			}
			if strings.Contains(errOut+stdout, secret) {
				t.Fatalf("the outside file's content was read: %q", errOut)
			}
			oneLineErr(t, errOut)
			wantNothingImported(t, s, ns)
		})
	}
	t.Run("SymlinkInsideIsFollowed", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"real/flows.json": doc1})
		if err := os.Symlink(filepath.Join(dir, "real", "flows.json"), filepath.Join(dir, "flows.json")); err != nil {
			t.Fatal(err)
		}
		ns := randomNS(t)
		if code, out, errOut := run(t, "import", "--from-userdir", dir, "--url", s.URL, "-n", ns); code != 0 {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if got := string(s.request(t, "GET", "/v1/namespaces/"+ns+"/flows", "", "", nil)); got != doc1 {
			t.Fatalf("got flows %s, want %s", got, doc1)
		}
	})
}

// TestImportLeavesProjectSecretsBehind: a project's credentialSecret (and
// any secret-like key under projects) never reaches flowhist, from a
// userDir or a bundle; the import says what it left out, without the value.
func TestImportLeavesProjectSecretsBehind(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	const secret = "project-secret-must-stay-home"
	projects := `{"projects":{"orders":{"credentialSecret":"` + secret + `","git":{"remotes":{"origin":{"token":"` + secret + `","url":"https://example.com/r.git"}}}}},"activeProject":"orders"}`
	// check imports from (--from-userdir DIR or --from-export FILE) into
	// a new namespace and looks at what arrived and what was said.
	check := func(t *testing.T, from ...string) {
		t.Helper()
		ns := randomNS(t)
		code, stdout, errOut := run(t, append([]string{"import", "--url", s.URL, "-n", ns}, from...)...)
		if code != 0 {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, stdout, errOut)
		}
		out := stdout + errOut
		got := string(s.request(t, "GET", "/v1/namespaces/"+ns+"/settings", "", "", nil))
		if strings.Contains(got, secret) || !strings.Contains(got, `"activeProject":"orders"`) || !strings.Contains(got, "https://example.com/r.git") {
			t.Fatalf("got settings %s, want the projects without their secrets", got)
		}
		if strings.Contains(out, secret) || !strings.Contains(out, "projects.projects.orders.credentialSecret") || !strings.Contains(out, "projects.projects.orders.git.remotes.origin.token") {
			t.Fatalf("got output %q, want it to name the keys left out, not their values", out)
		}
	}
	t.Run("UserDir", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			".config.projects.json":     projects,
			"projects/orders/flow.json": doc1,
		})
		check(t, "--from-userdir", dir)
	})
	t.Run("Bundle", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "b.jsonl")
		writeFiles(t, filepath.Dir(file), map[string]string{"b.jsonl": bundleLines(
			`{"revision":1,"type":"settings.saved","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"settings":{"projects":` + projects + `}}`)})
		check(t, "--from-export", file)
	})
}

// TestImportFromHostileBundle: a bundle whose events claim paths outside
// (a project named with "..", library paths with ".." or absolute) is
// refused with one line naming its line, and nothing is imported.
func TestImportFromHostileBundle(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	for _, tc := range []struct {
		name, event, want string
	}{
		{"ErrProjectDotDot", `{"revision":1,"type":"project.activated","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"project":"../../outside/evilproj"}`, `b.jsonl line 2: project name "../../outside/evilproj" has a path separator`},
		{"ErrProjectIsDotDot", `{"revision":1,"type":"project.activated","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"project":".."}`, `b.jsonl line 2: project name ".." is not a directory name`},
		{"ErrLibraryDotDot", `{"revision":1,"type":"library.saved","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"entry":{"type":"functions","path":"../../../etc/cron.d/x","meta":{},"body":"x"}}`, `b.jsonl line 2: library path "../../../etc/cron.d/x" has an empty, '.' or '..' segment`},
		{"ErrLibraryAbsolute", `{"revision":1,"type":"library.saved","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"entry":{"type":"functions","path":"/etc/passwd","meta":{},"body":"x"}}`, `b.jsonl line 2: library path "/etc/passwd" has an empty, '.' or '..' segment`},
		{"ErrLibraryTypeDotDot", `{"revision":1,"type":"library.saved","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"entry":{"type":"..","path":"x.js","meta":{},"body":"x"}}`, `b.jsonl line 2: library type ".." is not a name`},
		{"ErrSettingsActiveProjectDotDot", `{"revision":1,"type":"settings.saved","time":"2026-01-01T00:00:00Z","actor":{"user":"a"},"settings":{"projects":{"activeProject":"../evil"}}}`, `b.jsonl line 2: activeProject: project name "../evil" has a path separator`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"b.jsonl": bundleLines(tc.event)})
			ns := randomNS(t)
			code, out, errOut := run(t, "import", "--from-export", filepath.Join(dir, "b.jsonl"), "--url", s.URL, "-n", ns)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("got exit %d, stdout %q, stderr %q, want %d and %q", code, out, errOut, exitUsage, tc.want)
			}
			oneLineErr(t, errOut)
			wantNothingImported(t, s, ns)
		})
	}
}

// bundleLines is a history bundle of the events given, one a line.
func bundleLines(events ...string) string {
	return `{"flowhistExport":1,"namespace":"src","revision":` + string(rune('0'+len(events))) + `,"exported":"2026-01-01T00:00:00Z"}` + "\n" + strings.Join(events, "\n") + "\n"
}
