package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// TestAuditCommand reads two namespaces' events at once in every format.
func TestAuditCommand(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	a, b := seed(t, s, ""), seed(t, s, "") // four events each
	conn := []string{"--url", s.URL, "--ns", a + "," + b}
	t.Run("Table", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"audit", "--limit", "5"}, conn...)...)
		// Newest first: b's four (seeded last), then a's newest; ties in
		// a millisecond go to the greater namespace name first.
		na, nb := strings.Count(out, "  "+a+"  "), strings.Count(out, "  "+b+"  ")
		if code != 0 || na+nb != 5 || (na != 4 && nb != 4) || !strings.Contains(out, "(older entries: --cursor ") {
			t.Fatalf("got exit %d, %q %q", code, out, errOut)
		}
		if !strings.Contains(out, "  carol  ") || !strings.Contains(out, "HASH") {
			t.Fatalf("got %q, want the actor and the hash column", out)
		}
	})
	t.Run("NDJSONExport", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"audit", "--format", "ndjson", "--user", "alice"}, conn...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 {
			t.Fatalf("got exit %d, %d lines %q %q", code, len(lines), out, errOut)
		}
		for _, l := range lines {
			var e httpapi.AuditEntry
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Actor.User != "alice" || len(e.Hash) != 64 || e.Cursor == "" {
				t.Fatalf("line %s: %+v %v", l, e, err)
			}
		}
	})
	t.Run("CSV", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"audit", "--format", "csv", "--kind", "settings"}, conn...)...)
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil || len(rows) != 3 || rows[0][0] != "cursor" {
			t.Fatalf("got exit %d, %q (%v)", code, out, err)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{{"--follow"}, {"--format", "xml"}, {"--limit", "5000"}, {"--cursor", "x"}} {
			code, _, errOut := run(t, append(append([]string{"audit"}, args...), conn...)...)
			if code != exitUsage || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("%v: got exit %d, %q; want %d and one line", args, code, errOut, exitUsage)
			}
		}
	})
}
