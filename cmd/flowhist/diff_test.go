package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

func TestDiff(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}

	for _, tc := range []struct{ name, golden string }{
		{"1..3", "diff-1-3.txt"},
		{"1..2", "diff-1-2.txt"},
		{"1..2 --positions=false", "diff-1-2-nopositions.txt"},
		{"3..3", "diff-3-3.txt"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			f := strings.Fields(strings.Replace(tc.name, "..", " ", 1))
			code, out, errOut := run(t, append(append([]string{"diff"}, f...), conn...)...)
			if code != 0 {
				t.Fatalf("got exit %d, stderr %q", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
	t.Run("JSON", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"diff", "1", "2", "--json"}, conn...)...)
		var d httpapi.Diff
		if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.From != 1 || d.To != 2 || len(d.Added) != 1 {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
}

func TestValueTruncates(t *testing.T) {
	got := value(json.RawMessage(`"` + strings.Repeat("x", 200) + `"`))
	if n := len([]rune(got)); n != valueWidth || !strings.HasSuffix(got, "…") {
		t.Errorf("got %q (%d characters), want %d ending in …", got, n, valueWidth)
	}
	if got := value(nil); got != "(none)" {
		t.Errorf("got %q, want (none)", got)
	}
}
