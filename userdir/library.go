package userdir

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/flowhist/flowhist/domain"
)

var libMetaLine = regexp.MustCompile(`^// (\w+): (.*)`)

// libFileParts splits a library file as Node-RED's getFileMeta and
// getFileBody do.
func libFileParts(data string) (map[string]string, string) {
	meta := map[string]string{}
	lines := strings.Split(data, "\n")
	i := 0
	for ; i < len(lines); i++ {
		m := libMetaLine.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		meta[m[1]] = fromSingleLine(m[2])
	}
	return meta, strings.Join(lines[i:], "\n")
}

// libFile is a library file as Node-RED's localfilesystem library writes
// it: a flows entry is its body; any other has a "// key: value" line per
// meta property (a string as it is, anything else as its JSON), then the
// body.
func libFile(e domain.LibraryEntry) []byte {
	if e.Type == "flows" {
		return []byte(e.Body)
	}
	var meta map[string]json.RawMessage
	json.Unmarshal(e.Meta, &meta)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := string(meta[k])
		var s string
		if json.Unmarshal(meta[k], &s) == nil {
			v = s
		}
		b.WriteString("// " + k + ": " + toSingleLine(v) + "\n")
	}
	b.WriteString(e.Body)
	return []byte(b.String())
}

var singleLineEscape = regexp.MustCompile(`\\[\\n]`)

// fromSingleLine undoes toSingleLine.
func fromSingleLine(s string) string {
	return singleLineEscape.ReplaceAllStringFunc(s, func(m string) string {
		if m == `\\` {
			return `\`
		}
		return "\n"
	})
}

// toSingleLine escapes a meta value onto one line, as Node-RED does:
// backslashes doubled, newlines as \n.
func toSingleLine(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
