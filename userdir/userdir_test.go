package userdir_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/userdir"
)

// TestRoundTrip writes userDirs as Node-RED keeps them and reads them
// back as they were.
func TestRoundTrip(t *testing.T) {
	lib := []userdir.LibraryFile{
		{Entry: domain.LibraryEntry{Type: "flows", Path: "team/a.json", Meta: json.RawMessage(`{}`), Body: `[{"id":"x"}]`}},
		{Entry: domain.LibraryEntry{Type: "functions", Path: "f.js", Meta: json.RawMessage(`{"info":"two\nlines \\ back","outputs":"2"}`), Body: "return msg;\n// key: not meta\n"}},
	}
	for name, u := range map[string]*userdir.UserDir{
		"Plain": {
			FlowFile: "flows.json", Flows: []byte(`[{"id":"t1","type":"tab"}]`), Credentials: []byte(`{"$":"abc"}`),
			Runtime: json.RawMessage(`{"instanceId":"i"}`), Nodes: json.RawMessage(`{"node-red":{}}`), Users: json.RawMessage(`{"u":1}`),
			Library: lib,
		},
		"NoCredentialsNoConfig": {FlowFile: "flows.json", Flows: []byte(`[]`)},
		"Project": {
			FlowFile: filepath.Join("projects", "p1", "flow.json"), Flows: []byte(`[{"id":"t2","type":"tab"}]`),
			Projects: json.RawMessage(`{"activeProject":"p1","projects":{"p1":{}}}`), ActiveProject: "p1",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := userdir.Write(dir, u); err != nil {
				t.Fatal(err)
			}
			got, err := userdir.Read(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			want := *u
			want.CredentialsFile = strings.TrimSuffix(u.FlowFile, ".json") + "_cred.json"
			for i := range got.Library {
				got.Library[i].File = "" // where it was read: not part of the content
			}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("got\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		t.Helper()
		dir := t.TempDir()
		for name, text := range files {
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("SettingsFlowFile", func(t *testing.T) {
		dir := write(t, map[string]string{"settings.js": "module.exports = {\n  flowFile: 'my.json',\n}\n", "my.json": "", "flows.json": "[1]"})
		u, err := userdir.Read(dir, "")
		if err != nil || u.FlowFile != "my.json" || string(u.Flows) != "[]" || u.CredentialsFile != "my_cred.json" {
			t.Fatalf("got %+v, %v, want my.json read as no flows", u, err)
		}
	})
	t.Run("ProjectPackageFlowFile", func(t *testing.T) {
		dir := write(t, map[string]string{
			".config.projects.json":       `{"activeProject":"p"}`,
			"projects/p/package.json":     `{"node-red":{"settings":{"flowFile":"f.json","credentialsFile":"c.json"}}}`,
			"projects/p/f.json":           `[]`,
			"projects/p/c.json":           `{"$":"x"}`,
			"lib/functions/a/b.js":        "// name: b\nbody",
			"lib/not-an-entry-at-the-top": "x",
		})
		u, err := userdir.Read(dir, "")
		if err != nil || u.FlowFile != filepath.Join("projects", "p", "f.json") || string(u.Credentials) != `{"$":"x"}` || len(u.Library) != 1 || u.Library[0].Entry.Body != "body" {
			t.Fatalf("got %+v, %v", u, err)
		}
	})
	for _, tc := range []struct {
		name  string
		files map[string]string
		code  string
		want  string
	}{
		{"ErrNoFlowFile", map[string]string{"x": ""}, domain.ENOTFOUND, "no flow file"},
		{"ErrSeveralFlowFiles", map[string]string{"flows_a.json": "[]", "flows_b.json": "[]"}, domain.EINVALID, "several flow files (flows_a.json, flows_b.json)"},
		{"ErrConfigNotObject", map[string]string{"flows.json": "[]", ".config.nodes.json": "[]"}, domain.EINVALID, ".config.nodes.json: not a JSON object"},
		{"ErrProjectWithoutDir", map[string]string{".config.projects.json": `{"activeProject":"gone"}`}, domain.EINVALID, `the active project "gone" has no directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := userdir.Read(write(t, tc.files), "")
			if domain.ErrorCode(err) != tc.code || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want %s: %s", err, tc.code, tc.want)
			}
		})
	}
}
