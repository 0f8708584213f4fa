package domain

import (
	"fmt"
	"strings"
)

// maxDiffCells bounds the LCS table (lines of old times lines of new, after
// the common start and end are cut off): 4,000,000 int32 cells are 16 MB.
// Above it the changed middle is shown as one replacement.
const maxDiffCells = 4_000_000

// UnifiedDiff returns the unified line diff of oldText to newText, as diff -u
// writes it: "--- oldLabel" and "+++ newLabel" headers, then hunks
// "@@ -l,s +l,s @@" with context lines of context around each change (a
// count of 1 is left out, as diff does). A last line without a newline is
// followed by "\ No newline at end of file". It returns "" when the texts
// are equal.
func UnifiedDiff(oldText, newText, oldLabel, newLabel string, context int) string {
	if oldText == newText {
		return ""
	}
	context = max(context, 0)
	edits := diffLines(splitLines(oldText), splitLines(newText))

	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", oldLabel, newLabel)
	// oldLine and newLine count the lines before edits[i], for each i.
	oldLine := make([]int, len(edits)+1)
	newLine := make([]int, len(edits)+1)
	for i, e := range edits {
		oldLine[i+1], newLine[i+1] = oldLine[i], newLine[i]
		if e.op != '+' {
			oldLine[i+1]++
		}
		if e.op != '-' {
			newLine[i+1]++
		}
	}
	for i := 0; i < len(edits); {
		if edits[i].op == ' ' {
			i++
			continue
		}
		// A hunk runs from context lines before its first change to context
		// lines after its last, taking in changes at most 2*context apart.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(edits); j++ {
			if edits[j].op == ' ' {
				if j-end >= 2*context {
					break
				}
				continue
			}
			end = j + 1
		}
		end = min(end+context, len(edits))
		fmt.Fprintf(&b, "@@ -%s +%s @@\n",
			hunkRange(oldLine[start], oldLine[end]), hunkRange(newLine[start], newLine[end]))
		for _, e := range edits[start:end] {
			b.WriteByte(e.op)
			b.WriteString(e.line)
			if !strings.HasSuffix(e.line, "\n") {
				b.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return b.String()
}

// hunkRange formats the lines from (0-based, inclusive) to (exclusive) of a
// hunk header as diff -u does: "l,s", "l" when s is 1, and the line before
// the hunk when s is 0.
func hunkRange(from, to int) string {
	switch n := to - from; n {
	case 0:
		return fmt.Sprintf("%d,0", from)
	case 1:
		return fmt.Sprintf("%d", from+1)
	default:
		return fmt.Sprintf("%d,%d", from+1, n)
	}
}

// splitLines splits s after each newline; the last line lacks one if s does
// not end with one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lineEdit is one line of a diff: op ' ' keeps it, '-' deletes it, '+'
// inserts it.
type lineEdit struct {
	op   byte
	line string
}

// diffLines returns an edit script turning a into b with as few deleted and
// inserted lines as an LCS finds, deletions before insertions in each
// changed run.
func diffLines(a, b []string) []lineEdit {
	// Cut the common start and end: edits are usually small, and this keeps
	// the table small.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	edits := make([]lineEdit, 0, len(a)+len(b))
	for _, l := range a[:pre] {
		edits = append(edits, lineEdit{' ', l})
	}
	edits = append(edits, diffMiddle(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		edits = append(edits, lineEdit{' ', l})
	}
	return edits
}

// diffMiddle diffs by longest common subsequence, or replaces all of a with
// all of b when the table would be too large.
func diffMiddle(a, b []string) []lineEdit {
	var edits []lineEdit
	if len(a)*len(b) > maxDiffCells {
		for _, l := range a {
			edits = append(edits, lineEdit{'-', l})
		}
		for _, l := range b {
			edits = append(edits, lineEdit{'+', l})
		}
		return edits
	}
	// lcs[i*w+j] is the length of the LCS of a[i:] and b[j:].
	w := len(b) + 1
	lcs := make([]int32, (len(a)+1)*w)
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var ins []lineEdit // insertions held back until the run's deletions are out
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			edits = append(append(edits, ins...), lineEdit{' ', a[i]})
			ins = ins[:0]
			i++
			j++
		case j == len(b) || i < len(a) && lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			edits = append(edits, lineEdit{'-', a[i]})
			i++
		default:
			ins = append(ins, lineEdit{'+', b[j]})
			j++
		}
	}
	return append(edits, ins...)
}
