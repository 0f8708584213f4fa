package domain_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowhist/flowhist/domain"
)

// wantInvalid fails unless err is EINVALID with a message containing every
// one of parts.
func wantInvalid(tb testing.TB, err error, parts ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s", domain.EINVALID)
	}
	if code := domain.ErrorCode(err); code != domain.EINVALID {
		tb.Fatalf("got code %q (%v), want %q", code, err, domain.EINVALID)
	}
	for _, p := range parts {
		if !strings.Contains(domain.ErrorMessage(err), p) {
			tb.Fatalf("got message %q, want one containing %q", domain.ErrorMessage(err), p)
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     string // "" for valid, else a part of the message
	}{
		{"ASCII", `{"a":"b"}`, ""},
		{"UTF8", `{"é":"✓😀"}`, ""},
		{"EscapedBMP", `{"a":"\u00e9\u2028"}`, ""},
		{"EscapedPair", `{"a":"\ud83d\ude00"}`, ""},
		{"EscapedPairUpperCase", `{"a":"\uD83D\uDE00"}`, ""},
		{"EscapedBackslashBeforeU", `{"a":"\\ud800"}`, ""},
		{"ReplacementCharacter", `{"a":"\ufffd` + "\uFFFD" + `"}`, ""},
		{"InvalidUTF8", "{\"a\":\"x\xffy\"}", "invalid UTF-8 at byte 7"},
		{"TruncatedUTF8", "{\"a\":\"\xc3\"}", "invalid UTF-8 at byte 6"},
		{"EncodedSurrogate", "{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8"},
		{"Overlong", "{\"a\":\"\xc0\xaf\"}", "invalid UTF-8"},
		{"InvalidUTF8InKey", "{\"\xfe\":1}", "invalid UTF-8 at byte 2"},
		{"LoneHigh", `{"a":"\ud800"}`, `lone surrogate escape \ud800 at byte 6`},
		{"LoneHighAtEnd", `{"a":"x\ud800"}`, `\ud800`},
		{"LoneLow", `{"a":"\udc00"}`, `\udc00`},
		{"HighThenHigh", `{"a":"\ud800\ud800"}`, `\ud800`},
		{"HighThenText", `{"a":"\ud800x\udc00"}`, `\ud800`},
		{"LowThenHigh", `{"a":"\udc00\ud800"}`, `\udc00`},
		{"LoneHighInKey", `{"\uDBFF":1}`, `\uDBFF`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !json.Valid([]byte(c.in)) {
				t.Fatalf("test input %q is not valid JSON", c.in)
			}
			err := domain.CheckText("settings", []byte(c.in))
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			wantInvalid(t, err, "settings: ", c.want)
		})
	}
}

func TestCanonicalObject(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 500) + "1" + strings.Repeat("}", 500)
	for _, c := range []struct {
		name, in, want string
	}{
		{"Compact", `{"a":1}`, `{"a":1}`},
		{"Whitespace", " { \"a\" : 1 ,\n\t\"b\" : [ 1 , 2 ] } \n", `{"a":1,"b":[1,2]}`},
		{"KeyOrderKept", `{"z":1,"a":2,"m":3}`, `{"z":1,"a":2,"m":3}`},
		{"EscapesKept", `{"a":"\u00e9 \ud83d\ude00 \u003c \/ \" é"}`, `{"a":"\u00e9 \ud83d\ude00 \u003c \/ \" é"}`},
		{"HTMLNotEscaped", `{"a":"<&> ` + "\u2028" + `"}`, `{"a":"<&> ` + "\u2028" + `"}`},
		{"BigNumbersKept", `{"n":1e400,"i":123456789012345678901234567890123456789,"f":-0.0E+1}`, `{"n":1e400,"i":123456789012345678901234567890123456789,"f":-0.0E+1}`},
		{"Empty", ` {} `, `{}`},
		{"DuplicateKeysKept", `{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{"Deep", deep, deep},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := domain.CanonicalObject("settings", []byte(c.in))
			if err != nil {
				t.Fatalf("got %v, want %s", err, c.want)
			}
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	for _, c := range []struct {
		name, in, want string
	}{
		{"Null", `null`, "not null"},
		{"NullWithWhitespace", " null\n", "not null"},
		{"Array", `[{"a":1}]`, "not an array"},
		{"String", `"{}"`, "not a string"},
		{"Number", `42`, "not a number"},
		{"Boolean", `true`, "not a boolean"},
		{"Empty", ``, "must be a JSON object"},
		{"Whitespace", " \n", "must be a JSON object"},
		{"Truncated", `{"a":`, "must be a JSON object"},
		{"TwoValues", `{}{}`, "must be a JSON object"},
		{"TooDeep", strings.Repeat("[", 10001) + strings.Repeat("]", 10001), "must be a JSON object"},
		{"InvalidUTF8", "{\"a\":\"\xff\"}", "invalid UTF-8"},
		{"LoneSurrogate", `{"a":"\ud800"}`, "lone surrogate"},
	} {
		t.Run(c.name+"Refused", func(t *testing.T) {
			_, err := domain.CanonicalObject("settings", []byte(c.in))
			wantInvalid(t, err, "settings", c.want)
		})
	}
}

func TestCanonicalSettings(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"NoSecret", `{"a":1}`, `{"a":1}`},
		{"SecretFirst", `{"_credentialSecret":"s3cr3t","a":1,"b":{"c":2}}`, `{"a":1,"b":{"c":2}}`},
		{"SecretLast", ` { "z" : 1 , "_credentialSecret" : "s3cr3t" } `, `{"z":1}`},
		{"SecretMiddleKeepsOrder", `{"z":1,"_credentialSecret":{"x":[1,"}"]},"a":2}`, `{"z":1,"a":2}`},
		{"SecretOnly", `{"_credentialSecret":"s"}`, `{}`},
		{"SecretTwice", `{"_credentialSecret":"s","a":1,"_credentialSecret":"t"}`, `{"a":1}`},
		{"SecretEscapedKey", `{"_credential\u0053ecret":"s","a":"\u00e9"}`, `{"a":"\u00e9"}`},
		{"NestedSecretKept", `{"a":{"_credentialSecret":"x"}}`, `{"a":{"_credentialSecret":"x"}}`},
		{"SimilarKeyKept", `{"_credentialSecrets":1,"credentialSecret":2}`, `{"_credentialSecrets":1,"credentialSecret":2}`},
		{"Empty", `{}`, `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := domain.CanonicalSettings([]byte(c.in))
			if err != nil {
				t.Fatalf("got %v, want %s", err, c.want)
			}
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	t.Run("NullRefused", func(t *testing.T) {
		_, err := domain.CanonicalSettings([]byte(`null`))
		wantInvalid(t, err, "settings must be a JSON object")
	})
}

func TestValidateLibraryType(t *testing.T) {
	for _, c := range []struct {
		name, typ, want string // want: "" valid, else part of the message
	}{
		{"Flows", "flows", ""},
		{"Functions", "functions", ""},
		{"DotsInside", "my.type-1_x", ""},
		{"Unicode", "bibliothèque", ""},
		{"Longest", strings.Repeat("t", domain.MaxLibraryType), ""},
		{"Empty", "", "empty"},
		{"TooLong", strings.Repeat("t", domain.MaxLibraryType+1), "longer than 64 bytes"},
		{"TenKB", strings.Repeat("t", 10<<10), "longer than 64 bytes"},
		{"Dot", ".", "not a name"},
		{"DotDot", "..", "not a name"},
		{"Slash", "a/b", "'/' or ':'"},
		{"Colon", "a:b", "'/' or ':'"},
		{"NUL", "a\x00b", "control character U+0000"},
		{"Tab", "a\tb", "control character U+0009"},
		{"DEL", "a\x7f", "control character U+007F"},
		{"C1", "a\u0085", "control character U+0085"},
		{"InvalidUTF8", "a\xff", "invalid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := domain.ValidateLibraryType(c.typ)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			wantInvalid(t, err, c.want)
		})
	}
}

func TestValidateLibraryPath(t *testing.T) {
	seg := strings.Repeat("s", domain.MaxLibraryPathSegment)
	for _, c := range []struct {
		name, path, want string
	}{
		{"Root", "", ""},
		{"Name", "a", ""},
		{"Nested", "dir/sub/name.json", ""},
		{"Spaces", "my dir/my flow", ""},
		{"Unicode", "café/☕", ""},
		{"DotsInName", "a..b/.hidden/x.", ""},
		{"LongestSegment", seg, ""},
		{"Longest", strings.Repeat("a/", domain.MaxLibraryPath/2-1) + "ab", ""},
		{"LongestSegments", seg + "/" + seg + "/" + seg + "/" + seg, ""},
		{"TooLong", strings.Repeat("a/", 600), "longer than 1024 bytes"},
		{"SegmentTooLong", "a/" + seg + "s", "longer than 255 bytes"},
		{"DotDot", "a/../b", "'..' segment"},
		{"DotDotOnly", "..", "'..' segment"},
		{"Dot", "a/./b", "'..' segment"},
		{"EmptySegment", "a//b", "empty"},
		{"NUL", "a\x00b", "control character U+0000"},
		{"Newline", "a\nb", "control character U+000A"},
		{"DEL", "a/\x7f", "control character U+007F"},
		{"C1", "a/\u009b", "control character U+009B"},
		{"InvalidUTF8", "a/\xc3", "invalid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "" && len(c.path) > domain.MaxLibraryPath {
				t.Fatalf("test path is %d bytes, over the limit", len(c.path))
			}
			err := domain.ValidateLibraryPath(c.path)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			wantInvalid(t, err, c.want)
		})
	}
}

func TestParseFlowsInput(t *testing.T) {
	for _, c := range []struct {
		name, in string
	}{
		{"Empty", `[]`},
		{"Plain", `[{"id":"a","type":"tab"},{"id":"b","z":"a"}]`},
		{"Pretty", "[\n  {\"id\": \"a\",\n   \"v\": \"\\u00e9\"}\n]"},
		{"LongUTF8Runs", `[{"id":"中文","name":"` + strings.Repeat("流程历史😀é", 50) + `"}]`},
		{"UTF8AndPairs", `[{"id":"é","name":"✓ \ud83d\ude00 😀 \u00e9 \uD83D\uDE00","info":"` + "\u2028" + `"}]`},
		{"EscapedBackslashU", `[{"id":"a","v":"\\ud800"}]`},
		{"NestedCredentialsKept", `[{"id":"a","type":"function","config":{"credentials":{"user":"x"}},"wires":[[{"credentials":1}]]}]`},
		{"CredentialsAsValue", `[{"id":"a","name":"credentials","v":"\"credentials\":"}]`},
		{"SimilarKey", `[{"id":"a","credential":1,"Credentials":2,"credentials_":3}]`},
	} {
		t.Run(c.name+"Accepted", func(t *testing.T) {
			got, err := domain.ParseFlowsInput([]byte(c.in))
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			want, err := domain.ParseFlows([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("got %s, want %s (as ParseFlows)", got.Bytes(), want.Bytes())
			}
		})
	}
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"InlineCredentials", `[{"id":"t","type":"tab"},{"id":"b1","type":"mqtt-broker","credentials":{"password":"hunter2"}}]`,
			[]string{`node b1 has a credentials property`, `/deploy's "credentials" or PUT /credentials, encrypted`}},
		{"InlineCredentialsNull", `[{"id":"b1","credentials":null}]`, []string{"node b1 has a credentials property"}},
		{"InlineCredentialsBeforeID", `[{"credentials":{},"id":"b2"}]`, []string{"node b2 has"}},
		{"InlineCredentialsEscapedKey", `[{"id":"b3","cr\u0065dentials":{}}]`, []string{"node b3 has"}},
		{"InlineCredentialsPretty", "[ {\"id\" : \"b4\" ,\n \"credentials\" : { } } ]", []string{"node b4 has"}},
		{"FirstOfTwo", `[{"id":"a"},{"id":"b5","credentials":1},{"id":"b6","credentials":2}]`, []string{"node b5 has"}},
		{"InvalidUTF8", "[{\"id\":\"a\"},{\"id\":\"n2\",\"name\":\"x\xffy\"}]", []string{`node "n2" (element 1) has invalid UTF-8 at byte 20 of the node`}},
		{"InvalidUTF8InKey", "[{\"id\":\"n3\",\"\xc3\":1}]", []string{`node "n3" (element 0) has invalid UTF-8`}},
		{"InvalidUTF8BeforeID", "[{\"name\":\"\xff\",\"id\":\"n4\"}]", []string{`node "n4"`, "invalid UTF-8"}},
		{"InvalidUTF8Pretty", "[\n {\"id\": \"n5\", \"v\": \"\xe2\x82\"}\n]", []string{`node "n5"`, "invalid UTF-8"}},
		{"InvalidUTF8InARun", "[{\"id\":\"nr\",\"v\":\"中文\xe4\xb8中\"}]", []string{`node "nr" (element 0) has invalid UTF-8 at byte 22 of the node`}},
		{"InvalidUTF8AfterARun", "[{\"id\":\"ns\",\"v\":\"中文 x \x80\"}]", []string{`node "ns" (element 0) has invalid UTF-8 at byte 25 of the node`}},
		{"EncodedSurrogate", "[{\"id\":\"n6\",\"v\":\"\xed\xa0\x80\"}]", []string{`node "n6"`, "invalid UTF-8"}},
		{"LoneHigh", `[{"id":"n7","v":"\ud800"}]`, []string{`node "n7"`, `lone surrogate escape \ud800`}},
		{"LoneLow", `[{"id":"n8","v":"x\uDC00"}]`, []string{`node "n8"`, `lone surrogate escape \uDC00`}},
		{"HighThenHigh", `[{"id":"n9","v":"\ud800\ud801\udc00"}]`, []string{`node "n9"`, `\ud800 at byte 16`}},
		{"LoneInID", `[{"id":"\ud800"}]`, []string{`lone surrogate escape \ud800`}},
		{"LoneInKey", `[{"id":"na","\udfff":1}]`, []string{`node "na"`, `\udfff`}},
		{"BothTextFirst", `[{"id":"nb","credentials":{},"v":"\udfff"}]`, []string{`node "nb"`, `lone surrogate`}},
	} {
		t.Run(c.name+"Refused", func(t *testing.T) {
			_, err := domain.ParseFlowsInput([]byte(c.in))
			wantInvalid(t, err, c.want...)
		})
		t.Run(c.name+"StillReadable", func(t *testing.T) {
			// Stored documents from before the rule must stay readable.
			if _, err := domain.ParseFlows([]byte(c.in)); err != nil {
				t.Fatalf("ParseFlows: got %v, want no error", err)
			}
		})
	}
}

// FuzzParseFlowsInput checks ParseFlowsInput against ParseFlows and a
// reference: it accepts exactly what ParseFlows accepts that is valid
// UTF-8 without lone surrogate escapes and has no node with a top-level
// "credentials" key.
func FuzzParseFlowsInput(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{"id":"a"}]`, `[{"id":"a","credentials":{}}]`, `[{"id":"a","x":{"credentials":{}}}]`,
		`[{"id":"a","v":"\ud800"}]`, `[{"id":"a","v":"\ud83d\ude00"}]`, "[{\"id\":\"a\",\"v\":\"\xff\"}]",
		`[{"id":"a","cr\u0065dentials":1}]`, `[{"id":"a","v":"\\ud800"}]`, string(realisticDoc(4, 0)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lenient, lerr := domain.ParseFlows(in)
		got, err := domain.ParseFlowsInput(in)
		if lerr != nil {
			if err == nil {
				t.Fatalf("got no error, want ParseFlows' %v", lerr)
			}
			return
		}
		var elems []map[string]json.RawMessage
		if e := json.Unmarshal(in, &elems); e != nil {
			t.Fatalf("ParseFlows accepted what encoding/json refuses: %v", e)
		}
		creds := false
		for _, e := range elems {
			_, ok := e["credentials"]
			creds = creds || ok
		}
		want := utf8.Valid(in) && domain.CheckText("flows", in) == nil && !creds
		if err != nil && want || err == nil && !want {
			t.Fatalf("got error %v, want an error: %v", err, !want)
		}
		if err == nil && !bytes.Equal(got.Bytes(), lenient.Bytes()) {
			t.Fatalf("got %q, want ParseFlows' %q", got.Bytes(), lenient.Bytes())
		}
	})
}

func TestValidateLabel(t *testing.T) {
	for _, c := range []struct {
		name, v string
		max     int
		want    string
	}{
		{"Empty", "", 10, ""},
		{"Name", "alice@example.com", 200, ""},
		{"Unicode", "Zoë ☕", 200, ""},
		{"AnyLength", strings.Repeat("u", 1000), 0, ""},
		{"AtMax", strings.Repeat("c", 200), 200, ""},
		{"TooLong", strings.Repeat("c", 201), 200, "longer than 200 bytes"},
		{"Tab", "a\tb", 0, "control character U+0009"},
		{"NUL", "a\x00", 0, "control character U+0000"},
		{"InvalidUTF8", "a\xff", 0, "invalid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := domain.ValidateLabel("Flowhist-User", c.v, c.max)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			wantInvalid(t, err, "Flowhist-User", c.want)
		})
	}
}
