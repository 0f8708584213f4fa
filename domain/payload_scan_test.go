package domain

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The scanner's reading of a flows payload must be encoding/json's, byte
// for byte, or leave the payload to encoding/json.
var flowsPayloads = []struct {
	name, data string
	fast       bool // the scanner decodes it
}{
	{"Patch", `{"patch":{"u":[{"id":"a","type":"tab"},{"id":"b","z":"a","x":1}],"r":["c"],"o":["b","a"]}}`, true},
	{"EmptyPatch", `{"patch":{}}`, true},
	{"Credentials", `{"patch":{"u":[{"id":"a"}]},"credentials":{"$":"abc"}}`, true},
	{"CredentialsOnly", `{"patch":{},"credentials":{"$":"x\"y"}}`, true},
	{"CredentialsNull", `{"patch":{},"credentials":null}`, true},
	{"NestedCredentialsKey", `{"patch":{"u":[{"id":"a","cfg":{"a":1,"credentials":{"x":1}}}]}}`, true},
	{"Whitespace", `{"patch": {"u":[{"id":"a"}]}}`, false},
	{"WhitespaceInNode", `{"patch":{"u":[{"id": "a"}]}}`, false},
	{"OtherOrder", `{"credentials":{"$":"x"},"patch":{}}`, false},
	{"PatchNotObject", `{"patch":[]}`, false},
	{"TrailingData", `{"patch":{}}x`, false},
	{"Unterminated", `{"patch":{"u":[`, false},
	{"UnknownKey", `{"patch":{},"other":1}`, false},
}

func TestDecodeFlowsPayload(t *testing.T) {
	for _, c := range flowsPayloads {
		t.Run(c.name, func(t *testing.T) {
			var want FlowsPayload
			wantErr := json.Unmarshal([]byte(c.data), &want)
			got, done, err := decodeFlowsPayload([]byte(c.data))
			if done != c.fast {
				t.Fatalf("got done %v (%v), want %v", done, err, c.fast)
			}
			if !done {
				return
			}
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("got error %v, want %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// FuzzDecodeFlowsPayload holds the scanner to encoding/json on any input.
func FuzzDecodeFlowsPayload(f *testing.F) {
	for _, c := range flowsPayloads {
		f.Add([]byte(c.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, done, err := decodeFlowsPayload(data)
		if !done {
			return
		}
		var want FlowsPayload
		wantErr := json.Unmarshal(data, &want)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: got error %v, want %v", data, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, want %+v", data, got, want)
		}
	})
}
