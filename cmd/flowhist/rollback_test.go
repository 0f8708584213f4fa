package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

func TestRollback(t *testing.T) {
	s := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := seed(t, s, "")
	conn := []string{"--url", s.URL, "-n", ns}

	t.Run("ErrConflict", func(t *testing.T) {
		// The flows are at flows revision 3, not 2.
		code, _, errOut := run(t, append([]string{"rollback", "1", "--reason", "stale view", "--if-match", "2"}, conn...)...)
		if code != exitConflict {
			t.Fatalf("got exit %d, stderr %q, want %d", code, errOut, exitConflict)
		}
		oneLineErr(t, errOut)
	})
	t.Run("OK", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"rollback", "1", "--reason", "bad deploy", "--if-match", "3"}, conn...)...)
		if code != 0 || out != "rolled back to 1 as revision 5\n" {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		flows := s.request(t, "GET", "/v1/namespaces/"+ns+"/flows", "", "", nil)
		if string(flows) != doc1 {
			t.Errorf("got flows %s, want revision 1's", flows)
		}
		_, out, _ = run(t, append([]string{"history", "--limit", "1"}, conn...)...)
		if !strings.Contains(out, "rollback to 1: bad deploy") {
			t.Errorf("got\n%s\nwant the rollback with its reason", out)
		}
		_, out, _ = run(t, append([]string{"show", "5"}, conn...)...)
		if !strings.Contains(out, "channel:   cli (as the client said)") {
			t.Errorf("got\n%s\nwant the rollback through the cli", out)
		}
	})
	t.Run("Noop", func(t *testing.T) {
		code, out, errOut := run(t, append([]string{"rollback", "1", "--reason", "again"}, conn...)...)
		if code != 0 || out != "already at 1: nothing to do\n" {
			t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"rollback", "2", "--reason", "json", "--json"}, conn...)...)
		var res struct {
			Revision int  `json:"revision"`
			Noop     bool `json:"noop"`
		}
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Revision != 6 || res.Noop {
			t.Fatalf("got exit %d, %v, stdout %q", code, err, out)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		code, _, errOut := run(t, append([]string{"rollback", "99", "--reason", "nothing there"}, conn...)...)
		if code != exitNotFound {
			t.Fatalf("got exit %d, stderr %q, want %d", code, errOut, exitNotFound)
		}
		oneLineErr(t, errOut)
	})
}
