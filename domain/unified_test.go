package domain_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// numbered returns lines "1\n" … "n\n" with line i replaced by edits[i].
func numbered(n int, edits map[int]string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if l, ok := edits[i]; ok {
			b.WriteString(l)
			continue
		}
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		context  int
		want     string
	}{
		{name: "IdenticalIsEmpty", old: "a\nb\n", new: "a\nb\n", context: 3, want: ""},
		{name: "BothEmptyIsEmpty", old: "", new: "", context: 3, want: ""},
		{
			name: "InsertAtStart", old: "a\nb\n", new: "x\na\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -1,2 +1,3 @@\n+x\n a\n b\n",
		},
		{
			name: "DeleteAtEnd", old: "a\nb\nc\n", new: "a\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -1,3 +1,2 @@\n a\n b\n-c\n",
		},
		{
			name: "ChangeInMiddleWithContext", old: numbered(10, nil), new: numbered(10, map[int]string{5: "five\n"}), context: 3,
			want: "--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "ChangesFarApartInTwoHunks", old: numbered(20, nil), new: numbered(20, map[int]string{2: "two\n", 18: "eighteen\n"}), context: 3,
			want: "--- old\n+++ new\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n" +
				"@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n 20\n",
		},
		{
			// Six unchanged lines between: the two contexts meet.
			name: "ChangesCloseInOneHunk", old: numbered(12, nil), new: numbered(12, map[int]string{3: "three\n", 10: "ten\n"}), context: 3,
			want: "--- old\n+++ new\n@@ -1,12 +1,12 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n 7\n 8\n 9\n-10\n+ten\n 11\n 12\n",
		},
		{
			// Seven unchanged lines between: one is not shown.
			name: "ChangesSevenApartInTwoHunks", old: numbered(13, nil), new: numbered(13, map[int]string{2: "two\n", 10: "ten\n"}), context: 3,
			want: "--- old\n+++ new\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+ten\n 11\n 12\n 13\n",
		},
		{
			name: "ContextZero", old: "a\nb\nc\n", new: "a\nB\nc\n", context: 0,
			want: "--- old\n+++ new\n@@ -2 +2 @@\n-b\n+B\n",
		},
		{
			name: "InsertWithContextZeroNamesLineBefore", old: "a\nb\n", new: "a\nx\nb\n", context: 0,
			want: "--- old\n+++ new\n@@ -1,0 +2 @@\n+x\n",
		},
		{
			name: "ReplacedRunDeletesBeforeInserting", old: "a\nb\nc\nd\n", new: "a\nB\nC\nd\n", context: 1,
			want: "--- old\n+++ new\n@@ -1,4 +1,4 @@\n a\n-b\n-c\n+B\n+C\n d\n",
		},
		{
			name: "NoTrailingNewlineOnBoth", old: "a\nb", new: "a\nc", context: 3,
			want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n",
		},
		{
			name: "TrailingNewlineAdded", old: "a\nb", new: "a\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
		{
			name: "UnchangedLastLineWithoutNewline", old: "a\nb", new: "A\nb", context: 3,
			want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n",
		},
		{
			name: "FromEmpty", old: "", new: "a\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n",
		},
		{
			name: "ToEmpty", old: "a\n", new: "", context: 3,
			want: "--- old\n+++ new\n@@ -1 +0,0 @@\n-a\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := domain.UnifiedDiff(tt.old, tt.new, "old", "new", tt.context)
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnifiedDiffLarge checks that texts too large for the LCS table are
// diffed as one replacement of their changed middle, quickly.
func TestUnifiedDiffLarge(t *testing.T) {
	var old, new strings.Builder
	old.WriteString("same start\n")
	new.WriteString("same start\n")
	for i := range 3000 {
		fmt.Fprintf(&old, "old %d\n", i)
		fmt.Fprintf(&new, "new %d\n", i)
	}
	old.WriteString("same end\n")
	new.WriteString("same end\n")

	start := time.Now()
	got := domain.UnifiedDiff(old.String(), new.String(), "old", "new", 1)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("got %v, want well under 2s", d)
	}
	if want := "--- old\n+++ new\n@@ -1,3002 +1,3002 @@\n same start\n-old 0\n"; !strings.HasPrefix(got, want) {
		t.Errorf("got prefix\n%.80s\nwant\n%s", got, want)
	}
	if want := "-old 2999\n+new 0\n"; !strings.Contains(got, want) {
		t.Errorf("got no %q: not one replacement", want)
	}
	if want := "+new 2999\n same end\n"; !strings.HasSuffix(got, want) {
		t.Errorf("got suffix\n%s\nwant\n%s", got[len(got)-40:], want)
	}
}
