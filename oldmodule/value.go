package oldmodule

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Threshold is the old module's: with compression on, only JSON longer
// than this is compressed.
const Threshold = 1024

// gzipPrefix starts a compressed value.
const gzipPrefix = "gzip:"

// Encode applies the old module's value encoding to the JSON text b: with
// compress (its enableCompression) and a text longer than Threshold,
// "gzip:" + base64(gzip(text)); otherwise the text itself.
func Encode(b []byte, compress bool) []byte {
	if !compress || len(b) <= Threshold {
		return b
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	out := make([]byte, len(gzipPrefix)+base64.StdEncoding.EncodedLen(z.Len()))
	copy(out, gzipPrefix)
	base64.StdEncoding.Encode(out[len(gzipPrefix):], z.Bytes())
	return out
}

// Decode reverses Encode: a value starting with "gzip:" is base64 of gzip;
// anything else is the JSON itself. The old module's readers check every
// value this way, whatever their settings.
func Decode(v []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(v, []byte(gzipPrefix))
	if !ok {
		return v, nil
	}
	z, err := base64.StdEncoding.DecodeString(string(rest))
	if err != nil {
		return nil, err
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// DecodeJSON decodes a value that must hold JSON, saying what is wrong
// with one that does not.
func DecodeJSON(v []byte) ([]byte, error) {
	doc, err := Decode(v)
	if err != nil {
		return nil, fmt.Errorf("the gzip: value does not decode: %v", err)
	}
	if !json.Valid(doc) {
		return nil, fmt.Errorf("the value is not JSON (%.40q…)", doc)
	}
	return doc, nil
}
