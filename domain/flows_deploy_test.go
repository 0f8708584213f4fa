package domain_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/flowhist/flowhist/domain"
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
