package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// nrAdminSecret is the token of Node-RED's admin in these tests, which
// names the editor users it deploys for.
const nrAdminSecret = "nr-admin-secret-3e9a0c7d51"

// seedAsAdmin seeds a namespace through Node-RED's admin token and returns
// the flags that reach it.
func seedAsAdmin(t *testing.T) []string {
	t.Helper()
	s := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "nr-admin", Secret: nrAdminSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
	}})
	return []string{"--url", s.URL, "--token", nrAdminSecret, "-n", seed(t, s, nrAdminSecret)}
}

func TestHistory(t *testing.T) {
	conn := seedAsAdmin(t)

	t.Run("Table", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"history"}, conn...)...)
		if code != 0 {
			t.Fatalf("got exit %d, stderr %q", code, errOut)
		}
		golden(t, "history.txt", out)
	})
	t.Run("All", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"history", "--limit", "1", "--all"}, conn...)...)
		if code != 0 {
			t.Fatalf("got exit %d, stderr %q", code, errOut)
		}
		_, want, _ := run(t, append([]string{"history"}, conn...)...)
		if out != want {
			t.Errorf("got\n%s\nwant the same as one page:\n%s", out, want)
		}
	})
	t.Run("Page", func(t *testing.T) {
		_, out, _ := run(t, append([]string{"history", "--limit", "2"}, conn...)...)
		if strings.Count(out, "\n") != 4 || !strings.Contains(out, "--cursor 3") {
			t.Errorf("got\n%s\nwant 2 entries and a hint to continue at cursor 3", out)
		}
		_, out, _ = run(t, append([]string{"history", "--limit", "2", "--cursor", "3"}, conn...)...)
		if !strings.HasPrefix(strings.SplitN(out, "\n", 3)[1], "2 ") {
			t.Errorf("got\n%s\nwant revision 2 first", out)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		_, out, _ := run(t, append([]string{"history", "--kind", "settings"}, conn...)...)
		if strings.Count(out, "\n") != 2 || !strings.Contains(out, "carol") {
			t.Errorf("got\n%s\nwant only the settings revision", out)
		}
		_, out, _ = run(t, append([]string{"history", "--actor", "bob"}, conn...)...)
		if strings.Count(out, "\n") != 2 || !strings.Contains(out, "bob") {
			t.Errorf("got\n%s\nwant only bob's revision", out)
		}
		_, out, _ = run(t, append([]string{"history", "--actor", "nobody"}, conn...)...)
		if !strings.HasPrefix(out, "no history") {
			t.Errorf("got %q, want no history", out)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		for _, args := range [][]string{{"history", "--json"}, {"history", "--json", "--all", "--limit", "1"}} {
			code, out, errOut := run(t, append(args, conn...)...)
			var page struct {
				Entries []struct {
					Revision int `json:"revision"`
				} `json:"entries"`
			}
			if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Entries) != 4 || page.Entries[0].Revision != 4 {
				t.Fatalf("%v: got exit %d, %v, stdout %q, stderr %q", args, code, err, out, errOut)
			}
			if !strings.HasPrefix(out, "{\n  \"entries\": [") {
				t.Errorf("got %.40q…, want JSON indented by two spaces", out)
			}
		}
	})
}

func TestShow(t *testing.T) {
	conn := seedAsAdmin(t)

	t.Run("Flows", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"show", "2"}, conn...)...)
		for _, want := range []string{"revision 2  flows.deployed", "actor:     bob via nr-admin from ", "channel:   api (as the client said)", "+ \"log\" (debug) d1", "~ \"transform\" (function) f1", "sha256:    "} {
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("got exit %d, stdout:\n%s\nstderr %q, want %q", code, out, errOut, want)
			}
		}
	})
	t.Run("Settings", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"show", "4"}, conn...)...)
		if code != 0 || !strings.Contains(out, "payload:") || !strings.Contains(out, `"editorTheme"`) {
			t.Fatalf("got exit %d, stdout:\n%s", code, out)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"show", "2", "--json"}, conn...)...)
		var e httpapi.HistoryEntry
		if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil || e.Revision != 2 || e.Actor.User != "bob" {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
}

func TestNode(t *testing.T) {
	conn := seedAsAdmin(t)

	t.Run("Table", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"node", "f1"}, conn...)...)
		if code != 0 {
			t.Fatalf("got exit %d, stderr %q", code, errOut)
		}
		golden(t, "node-f1.txt", out)
		_, out, _ = run(t, append([]string{"node", "i1"}, conn...)...)
		golden(t, "node-i1.txt", out)
	})
	t.Run("JSON", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"node", "d1", "--json"}, conn...)...)
		var h struct {
			Node    string `json:"node"`
			Entries []httpapi.NodeHistoryEntry
		}
		if err := json.Unmarshal([]byte(out), &h); code != 0 || err != nil || h.Node != "d1" || len(h.Entries) != 2 || h.Entries[0].Change != "removed" {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
}
