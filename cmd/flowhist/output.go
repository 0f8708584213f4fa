package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// printJSON prints an answer indented by two spaces.
func printJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(data), "", "  "); err != nil {
		return fmt.Errorf("the answer is not JSON: %v", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// colors are ANSI escapes, all empty when colour is off.
type colors struct{ bold, red, green, yellow, dim, reset string }

// colorsFor returns colours for w: on only when w is a terminal and NO_COLOR
// is not set.
func colorsFor(w io.Writer) colors {
	if os.Getenv("NO_COLOR") != "" || !isTerminal(w) {
		return colors{}
	}
	return colors{bold: "\x1b[1m", red: "\x1b[31m", green: "\x1b[32m", yellow: "\x1b[33m", dim: "\x1b[2m", reset: "\x1b[0m"}
}

// printTable prints rows aligned in columns under a header, which is bold
// on a terminal. Escapes would count as width inside tabwriter, so the
// header line is coloured after alignment.
func printTable(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	// A row whose last cell is empty would end in the padding of the one
	// before.
	lines := strings.Split(buf.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	out := strings.Join(lines, "\n")
	if c := colorsFor(w); c.bold != "" {
		first, rest, _ := strings.Cut(out, "\n")
		out = c.bold + first + c.reset + "\n" + rest
	}
	_, err := io.WriteString(w, out)
	return err
}

// formatTime formats t in UTC to the second.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// actorString shows who acted: the user, and the token that acted for it
// when that is another ("alice via nr-admin"); for an import, the user
// its source claims ("alice (claimed) via importer"). The channel is the
// client's claim: show prints it, tables leave it out.
func actorString(a domain.Actor, token string, claimed *domain.Claim) string {
	user := a.User
	if claimed != nil && claimed.User != "" {
		user = claimed.User + " (claimed)"
	}
	if user == "" {
		user = "anonymous"
	}
	if token != "" && token != user {
		return user + " via " + token
	}
	return user
}

// nodeName names a node for humans: its name, else its type, else its id.
// A tab, subflow or group is named with its kind: "tab Acceptance".
func nodeName(n domain.NodeRef) string {
	switch {
	case n.Name != "" && (n.Type == "tab" || n.Type == "subflow" || n.Type == "group"):
		return n.Type + " " + n.Name
	case n.Name != "":
		return n.Name
	case n.Type != "":
		return n.Type
	}
	return n.ID
}

// nodeLine describes a node fully: `name (type) id`.
func nodeLine(n domain.NodeRef) string {
	var b strings.Builder
	if n.Name != "" {
		b.WriteString(fmt.Sprintf("%q ", n.Name))
	}
	if n.Type != "" {
		b.WriteString("(" + n.Type + ") ")
	}
	b.WriteString(n.ID)
	return b.String()
}

// oneLine collapses s to one line of at most max characters, ending in
// "…" when cut. Control characters become spaces: text from the API (a
// worker's error, a rollback's reason) must not move the terminal's cursor
// or colour it.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// changes describes an entry's effect in a few words for the history table.
func changes(e httpapi.HistoryEntry) string {
	if e.Cause == domain.CauseRollback {
		s := fmt.Sprintf("rollback to %d", e.Target)
		if e.Reason != "" {
			s += ": " + oneLine(e.Reason, 60)
		}
		return s
	}
	if domain.IsRolloutEvent(e.Type) {
		s := "rollout"
		if e.Reason != "" {
			s += ": " + oneLine(e.Reason, 60)
		}
		return s
	}
	var parts []string
	if s := e.Summary; s != nil {
		counts := fmt.Sprintf("+%d ~%d -%d", len(s.Added), len(s.Changed), len(s.Removed))
		var names []string
		for _, refs := range [][]domain.NodeRef{s.Added, s.Changed, s.Removed} {
			for _, n := range refs {
				if len(names) < 3 {
					names = append(names, oneLine(nodeName(n), 24))
				}
			}
		}
		if total := len(s.Added) + len(s.Changed) + len(s.Removed); total > 3 {
			names = append(names, fmt.Sprintf("and %d more", total-3))
		}
		if len(names) > 0 {
			counts += " " + strings.Join(names, ", ")
		}
		parts = append(parts, counts)
	} else if e.Aggregate != domain.AggregateFlows {
		parts = append(parts, e.Aggregate)
	}
	if e.Credentials != nil && e.Credentials.Changed {
		parts = append(parts, "credentials changed")
	}
	return strings.Join(parts, "; ")
}

// claimString shows who an import's source says acted: "alice via
// old-admin on node-red".
func claimString(c domain.Claim) string {
	s := c.User
	if s == "" {
		s = "anonymous"
	}
	if c.Token != "" && c.Token != c.User {
		s += " via " + c.Token
	}
	if c.Channel != "" {
		s += " on " + c.Channel
	}
	return s
}
