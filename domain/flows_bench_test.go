package domain_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
)

// The 1 MB benchmarks measure the deploy path against its baselines in the
// same run: json.Valid (what any encoding/json use costs at least) and
// sha256 (what Node-RED's revision costs anyway).

const benchNodes = 2000

func benchDoc(b *testing.B) []byte {
	b.Helper()
	doc := realisticDoc(benchNodes, 0)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	return doc
}

func BenchmarkParseFlows1MB(b *testing.B) {
	doc := benchDoc(b)
	for b.Loop() {
		if _, err := domain.ParseFlows(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFlowsInput1MB is the deploy path's parse: ParseFlows with
// the UTF-8, surrogate and node credentials checks.
func BenchmarkParseFlowsInput1MB(b *testing.B) {
	doc := benchDoc(b)
	for b.Loop() {
		if _, err := domain.ParseFlowsInput(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFlowsInputUnicode1MB parses a document whose text is
// mostly non-ASCII (comments in Chinese), the worst case of the UTF-8 check.
func BenchmarkParseFlowsInputUnicode1MB(b *testing.B) {
	raws := make([][]byte, 0, 600)
	text := strings.Repeat("流程历史记录：部署、回滚与审计。", 40)
	for i := 0; len(raws) < cap(raws); i++ {
		raws = append(raws, []byte(fmt.Sprintf(`{"id":"%s","type":"comment","z":"t","name":"注释 %d","info":"%s"}`, nodeID(i), i, text)))
	}
	doc := joinDoc(raws)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseFlowsInput(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFlowsPretty1MB(b *testing.B) {
	var f []json.RawMessage
	if err := json.Unmarshal(realisticDoc(benchNodes, 0), &f); err != nil {
		b.Fatal(err)
	}
	doc, err := json.MarshalIndent(f, "", "    ")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseFlows(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONValid1MB(b *testing.B) {
	doc := benchDoc(b)
	for b.Loop() {
		if !json.Valid(doc) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkSHA256_1MB(b *testing.B) {
	doc := benchDoc(b)
	for b.Loop() {
		sha256.Sum256(doc)
	}
}

// BenchmarkDiffFlows1MB diffs two separately parsed documents that differ
// in one function node, as a deploy does.
func BenchmarkDiffFlows1MB(b *testing.B) {
	doc := benchDoc(b)
	x := mustParse(b, doc)
	y := mustParse(b, realisticDoc(benchNodes, 1))
	for b.Loop() {
		if p := domain.DiffFlows(x, y); len(p.Upsert) != 1 {
			b.Fatalf("got %d upserts, want 1", len(p.Upsert))
		}
	}
}

// BenchmarkApplyPatch applies a one-node patch, the step of rebuilding a
// revision from a snapshot and patches.
func BenchmarkApplyPatch(b *testing.B) {
	doc := benchDoc(b)
	x := mustParse(b, doc)
	p := domain.DiffFlows(x, mustParse(b, realisticDoc(benchNodes, 1)))
	for b.Loop() {
		if _, err := x.Apply(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyPatchSHA256 also hashes the result, as the check of a
// rebuilt revision does.
func BenchmarkApplyPatchSHA256(b *testing.B) {
	doc := benchDoc(b)
	x := mustParse(b, doc)
	p := domain.DiffFlows(x, mustParse(b, realisticDoc(benchNodes, 1)))
	for b.Loop() {
		y, err := x.Apply(p)
		if err != nil {
			b.Fatal(err)
		}
		y.SHA256()
	}
}

// BenchmarkApplyPatchReorder applies a patch that moves nodes, which needs a
// new index and an order.
func BenchmarkApplyPatchReorder(b *testing.B) {
	doc := benchDoc(b)
	x := mustParse(b, doc)
	nodes := x.Nodes()
	raws := make([][]byte, len(nodes))
	for i, n := range nodes {
		raws[(i+1)%len(nodes)] = n.Raw
	}
	p := domain.DiffFlows(x, mustParse(b, joinDoc(raws)))
	if p.Order == nil {
		b.Fatal("got no order, want one")
	}
	for b.Loop() {
		if _, err := x.Apply(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFlowsInputFrom1MB is the deploy path's parse of a one-node
// change (a node anywhere) as an edit of the head, hash included; against
// ParseFlowsInput and SHA256 of the same bytes in the same run.
func BenchmarkParseFlowsInputFrom1MB(b *testing.B) {
	doc := domaintest.NewDoc(benchNodes)
	head, err := domain.ParseFlowsInput(doc.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	head.SHA256()
	edits := make([][]byte, 64)
	for i := range edits {
		d := domaintest.NewDoc(benchNodes)
		d.Touch(i * 7919 % benchNodes)
		edits[i] = d.Bytes()
	}
	b.SetBytes(int64(len(edits[0])))
	b.ReportAllocs()
	for _, arm := range []struct {
		name  string
		parse func([]byte) (*domain.Flows, error)
	}{
		{"Edit", func(d []byte) (*domain.Flows, error) { return domain.ParseFlowsInputFrom(d, head) }},
		{"Full", domain.ParseFlowsInput},
	} {
		b.Run(arm.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				f, err := arm.parse(edits[i%len(edits)])
				if err != nil {
					b.Fatal(err)
				}
				f.SHA256()
				i++
			}
		})
	}
	b.Run("SHA256", func(b *testing.B) {
		for b.Loop() {
			sha256.Sum256(edits[0])
		}
	})
}
