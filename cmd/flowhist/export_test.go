package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

func TestExport(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}

	t.Run("File", func(t *testing.T) {
		for _, rev := range []string{"1", "2", "3"} {
			path := filepath.Join(t.TempDir(), "flows.json")
			code, out, errOut := run(t, append([]string{"export", rev, "-o", path}, conn...)...)
			if code != 0 || !strings.HasPrefix(out, "wrote the flows of revision "+rev+" to "+path) {
				t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			got, _ := os.ReadFile(path)
			want := s.request(t, "GET", "/v1/namespaces/"+ns+"/revisions/"+rev+"/flows", "", "", nil)
			if string(got) != string(want) {
				t.Errorf("revision %s: got %s, want the server's bytes %s", rev, got, want)
			}
		}
	})
	t.Run("Stdout", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"export", "1", "-o", "-"}, conn...)...)
		if code != 0 || out != doc1 {
			t.Fatalf("got exit %d, stdout %q, want revision 1 byte for byte", code, out)
		}
	})
	t.Run("Dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "flows")
		code, out, errOut := run(t, append([]string{"export", "2", "--dir", dir}, conn...)...)
		if code != 0 || !strings.Contains(out, "3 files") {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		goldenDir(t, "export-2", dir)

		// The same revision gives the same files.
		again := filepath.Join(t.TempDir(), "again")
		run(t, append([]string{"export", "2", "--dir", again}, conn...)...)
		for _, name := range readDir(t, dir) {
			a, _ := os.ReadFile(filepath.Join(dir, name))
			b, _ := os.ReadFile(filepath.Join(again, name))
			if string(a) != string(b) {
				t.Errorf("%s differs between two exports", name)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		dir := t.TempDir()
		code, out, _ := run(t, append([]string{"export", "3", "--dir", dir, "--json"}, conn...)...)
		var r struct {
			Revision int      `json:"revision"`
			Files    []string `json:"files"`
		}
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Revision != 3 ||
			!slices.Equal(r.Files, []string{"Orders-v2-t1.json", "My-Sub-s1.json", "_global.json"}) {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
}

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// goldenDir compares the files in dir with testdata/name/, or rewrites
// them with -update.
func goldenDir(t *testing.T, name, dir string) {
	t.Helper()
	want := filepath.Join("testdata", name)
	got := readDir(t, dir)
	if *update {
		os.RemoveAll(want)
		os.MkdirAll(want, 0o755)
		for _, f := range got {
			data, _ := os.ReadFile(filepath.Join(dir, f))
			if err := os.WriteFile(filepath.Join(want, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if names := readDir(t, want); !slices.Equal(got, names) {
		t.Fatalf("got files %q, want %q (go test -update rewrites %s)", got, names, want)
	}
	for _, f := range got {
		g, _ := os.ReadFile(filepath.Join(dir, f))
		w, _ := os.ReadFile(filepath.Join(want, f))
		if string(g) != string(w) {
			t.Errorf("%s differs from %s\ngot:\n%s\nwant:\n%s", f, filepath.Join(want, f), g, w)
		}
	}
}
