package domain_test

import (
	"bytes"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
)

// TestParseFlowsInputHashAlongside: a large document's hash, computed while
// it is scanned, is its own whatever surrounds it in the input.
func TestParseFlowsInputHashAlongside(t *testing.T) {
	doc := domaintest.NewDoc(400).Bytes() // over 64 KiB
	want := domain.SHA256Hex(doc)
	spaced := bytes.ReplaceAll(doc, []byte(`,"`), []byte(`, "`))
	for name, in := range map[string][]byte{
		"Compact":         doc,
		"LeadingSpace":    append([]byte(" \n"), doc...),
		"TrailingSpace":   append(bytes.Clone(doc), '\n'),
		"SpacesInside":    spaced,
		"SpacesAndAround": append(append([]byte("\t"), spaced...), ' '),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := domain.ParseFlowsInput(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.SHA256(); got != want {
				t.Fatalf("got sha256 %s, want %s", got, want)
			}
			if !bytes.Equal(f.Bytes(), doc) {
				t.Fatal("got other bytes than the compact document")
			}
		})
	}
}

// TestFlowsEqual: Equal compares documents byte for byte.
func TestFlowsEqual(t *testing.T) {
	parse := func(doc string) *domain.Flows {
		f, err := domain.ParseFlows([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := parse(`[{"id":"a"},{"id":"b","x":1}]`)
	for _, tc := range []struct {
		name string
		b    *domain.Flows
		want bool
	}{
		{"Same", parse(`[{"id":"a"},{"id":"b","x":1}]`), true},
		{"Spaced", parse(`[ {"id":"a"}, {"id":"b", "x":1} ]`), true},
		{"OtherValue", parse(`[{"id":"a"},{"id":"b","x":2}]`), false},
		{"OtherOrder", parse(`[{"id":"b","x":1},{"id":"a"}]`), false},
		{"Shorter", parse(`[{"id":"a"}]`), false},
		{"Nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.Equal(tc.b); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if !(*domain.Flows)(nil).Equal(nil) {
		t.Fatal("nil documents differ")
	}
}
