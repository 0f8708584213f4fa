package oldmodule_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/oldmodule"
)

func TestEncodeDecode(t *testing.T) {
	long := []byte(`{"a":"` + strings.Repeat("x", oldmodule.Threshold) + `"}`)
	short := []byte(`{"a":1}`)
	for _, tc := range []struct {
		name     string
		text     []byte
		compress bool
		gzipped  bool
	}{
		{"LongCompressed", long, true, true},
		{"LongPlain", long, false, false},
		{"ShortNotCompressed", short, true, false},
		{"AtThresholdNotCompressed", long[:oldmodule.Threshold], true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := oldmodule.Encode(tc.text, tc.compress)
			if got := bytes.HasPrefix(v, []byte("gzip:")); got != tc.gzipped {
				t.Fatalf("got gzip: %v, want %v", got, tc.gzipped)
			}
			back, err := oldmodule.Decode(v)
			if err != nil || !bytes.Equal(back, tc.text) {
				t.Fatalf("got %.60q, %v, want the text back", back, err)
			}
		})
	}
	t.Run("ErrBadGzip", func(t *testing.T) {
		if _, err := oldmodule.DecodeJSON([]byte("gzip:!!!")); err == nil || !strings.Contains(err.Error(), "does not decode") {
			t.Fatalf("got %v, want a decode error", err)
		}
	})
	t.Run("ErrNotJSON", func(t *testing.T) {
		if _, err := oldmodule.DecodeJSON([]byte("{nope")); err == nil || !strings.Contains(err.Error(), "not JSON") {
			t.Fatalf("got %v, want not JSON", err)
		}
	})
}

func TestFlowsRoundTrip(t *testing.T) {
	f, err := domain.ParseFlowsInput([]byte(`[{"id":"t1","type":"tab","label":"A \u00e9"},{"id":"n1","type":"inject","z":"t1","x":1}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		v, err := oldmodule.Decode(oldmodule.Encode(oldmodule.Flows(f), compress))
		if err != nil {
			t.Fatal(err)
		}
		got, err := oldmodule.ParseFlows(v)
		if err != nil || !bytes.Equal(got.Flows, f.Bytes()) || got.Rev != f.SHA256() {
			t.Fatalf("got %s rev %q, %v; want the document byte for byte with its sha256", got.Flows, got.Rev, err)
		}
	}
	t.Run("BareArray", func(t *testing.T) {
		got, err := oldmodule.ParseFlows([]byte(" [1] "))
		if err != nil || string(got.Flows) != "[1]" || got.Rev != "" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	for name, doc := range map[string]string{"ErrNoFlows": `{"rev":"0"}`, "ErrFlowsNotArray": `{"flows":{}}`, "ErrNotJSON": `x`} {
		t.Run(name, func(t *testing.T) {
			if _, err := oldmodule.ParseFlows([]byte(doc)); err == nil {
				t.Fatal("got no error")
			}
		})
	}
}

func TestLibraryRoundTrip(t *testing.T) {
	for name, meta := range map[string]string{"WithMeta": `{"outputs":2,"info":"x"}`, "EmptyMeta": `{}`, "NoMeta": ``} {
		t.Run(name, func(t *testing.T) {
			e := domain.LibraryEntry{Type: "functions", Path: "a/b", Meta: json.RawMessage(meta), Body: "return msg;\n\"q\""}
			got, err := oldmodule.ParseLibrary(e.Type, e.Path, oldmodule.Library(e))
			if err != nil || got.Body != e.Body || got.Type != e.Type || got.Path != e.Path {
				t.Fatalf("got %+v, %v, want %+v", got, err, e)
			}
			want := meta
			if want == "" {
				want = "{}"
			}
			var a, b any
			json.Unmarshal(got.Meta, &a)
			json.Unmarshal([]byte(want), &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("got meta %s, want %s", got.Meta, want)
			}
		})
	}
	t.Run("ErrFnNotString", func(t *testing.T) {
		if _, err := oldmodule.ParseLibrary("f", "p", []byte(`{"fn":1}`)); err == nil {
			t.Fatal("got no error")
		}
	})
}

func TestProjectRoundTrip(t *testing.T) {
	v := oldmodule.Project("my \"project\"", time.UnixMilli(1700000000123))
	if string(v) != `{"name":"my \"project\"","updated":1700000000123}` {
		t.Fatalf("got %s", v)
	}
	if name, err := oldmodule.ParseProject(v); err != nil || name != `my "project"` {
		t.Fatalf("got %q, %v", name, err)
	}
	if _, err := oldmodule.ParseProject([]byte(`{"updated":1}`)); err == nil {
		t.Fatal("got no error for a value without a name")
	}
}

func TestPackagesRoundTrip(t *testing.T) {
	v := oldmodule.Packages([]domain.Package{{Name: "node-red-a", Version: "1.0.0"}, {Name: "node-red-b", Version: "2.0.0"}})
	if got := oldmodule.ParsePackages(v); len(got) != 2 || got[0] != "node-red-a" || got[1] != "node-red-b" {
		t.Fatalf("got %q from %s", got, v)
	}
	if got := oldmodule.Packages(nil); string(got) != "[]" {
		t.Fatalf("got %s, want [] for no packages", got)
	}
	if got := oldmodule.ParsePackages([]byte(`{"node-red-a":"1.0.0"}`)); got != nil {
		t.Fatalf("got %q, want nil for a fork's map", got)
	}
}
