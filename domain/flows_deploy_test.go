package domain_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
)

// deployBodyCases are bodies SplitDeployBody must split as encoding/json
// does, or leave to it.
var deployBodyCases = []string{
	`{"flows":[{"id":"a","type":"tab"}],"credentials":{"a":{"$":"x"}},"user":"ann"}`,
	`{"flows":[],"credentials":null}`,
	` { "user" : "bob" , "flows" : [ {"id":"a"} ] } `,
	`{"flows":[1],"flows":[2]}`,
	`{"flows":null}`,
	`{}`,
	`{"other":{"flows":[]},"flows":[]}`,
	`{"Flows":[]}`,
	`{"fl\u006fws":[]}`,
	`{"flows":[]`,
	`{"flows":[]}x`,
	`[]`,
	`{"flows":[],}`,
	`{"user":"\u00e9\ud800"}`,
	"{\"user\":\"\xff\"}",
	`{"flows":[{"id":"a"}] , "credentials" : {"b":1}}` + "\n",
}

func TestSplitDeployBodyAsEncodingJSON(t *testing.T) {
	for _, body := range deployBodyCases {
		t.Run("", func(t *testing.T) { checkSplitDeployBody(t, []byte(body)) })
	}
}

func FuzzSplitDeployBody(f *testing.F) {
	for _, body := range deployBodyCases {
		f.Add([]byte(body))
	}
	f.Fuzz(checkSplitDeployBody)
}

func checkSplitDeployBody(t *testing.T, body []byte) {
	got, done := domain.SplitDeployBody(body)
	if !done {
		return
	}
	var want struct {
		Flows, Credentials, User json.RawMessage
	}
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("%q: split, but encoding/json refuses it: %v", body, err)
	}
	for _, p := range []struct {
		name      string
		got, want []byte
	}{{"flows", got.Flows, want.Flows}, {"credentials", got.Credentials, want.Credentials}, {"user", got.User, want.User}} {
		if !bytes.Equal(p.got, p.want) || (p.got == nil) != (p.want == nil) {
			t.Fatalf("%q: got %s %q, want %q", body, p.name, p.got, p.want)
		}
	}
}

// TestSplitDeployBodyFrom: flows found and parsed as an edit of the head
// are what encoding/json and ParseFlowsInput make of the body, whatever
// follows them (even the head's last bytes again).
func TestSplitDeployBodyFrom(t *testing.T) {
	doc := domaintest.NewDoc(400)
	prev, err := domain.ParseFlowsInput(doc.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b := doc.Bytes()
	tail := b[len(b)-64:]
	for name, flows := range editCases(doc) {
		for _, after := range []string{
			`,"credentials":{"a":{"$":"x"}}}`,
			`,"credentials":null,"user":"ann"}`,
			`,"user":"` + strings.ReplaceAll(string(tail), `"`, `\"`) + `"}`,
			`,"copy":` + string(b) + `}`,
			`,"flows":[]}`,
			`}x`,
		} {
			body := slicesConcat([]byte(`{"flows":`), flows, []byte(after))
			t.Run(name, func(t *testing.T) {
				checkSplitDeployBody(t, body)
				got, f, done := domain.SplitDeployBodyFrom(body, prev)
				want, wantDone := domain.SplitDeployBody(body)
				if done != wantDone || !bytes.Equal(got.Flows, want.Flows) || !bytes.Equal(got.Credentials, want.Credentials) || !bytes.Equal(got.User, want.User) {
					t.Fatalf("%q: got %q (%v), want %q (%v)", body, got, done, want, wantDone)
				}
				if f == nil {
					return
				}
				wf, err := domain.ParseFlowsInput(got.Flows)
				if err != nil || !bytes.Equal(f.Bytes(), wf.Bytes()) || f.SHA256() != wf.SHA256() || f.Len() != wf.Len() {
					t.Fatalf("%q: got flows parsed as another document (%v)", body, err)
				}
			})
		}
	}
	t.Run("ParsedAsAnEdit", func(t *testing.T) {
		touched := domaintest.NewDoc(400)
		touched.Touch(200)
		_, f, done := domain.SplitDeployBodyFrom(slicesConcat([]byte(`{"flows":`), touched.Bytes(), []byte(`,"credentials":{}}`)), prev)
		if !done || f == nil {
			t.Fatalf("got flows %v (done %v), want them parsed as an edit", f, done)
		}
	})
}
