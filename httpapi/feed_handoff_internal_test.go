package httpapi

import (
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

// TestChunkedLines: a chunked body's lines come out whole however the
// bytes are cut; a size that is not hex, or a line longer than an
// acknowledgement can be, is refused; what follows the last chunk is not
// read.
func TestChunkedLines(t *testing.T) {
	body := "7\r\n{\"ack\":\r\n3;x=y\r\n12}\r\nd\r\n\n\n{\"ack\":13}\n\r\n0\r\nTrailer: z\r\n\r\ngarbage"
	want := []string{`{"ack":12}`, ``, `{"ack":13}`}
	for cut := 1; cut <= len(body); cut++ {
		var got []string
		c := chunkedLines{line: func(l []byte) error { got = append(got, string(l)); return nil }}
		for i := 0; i < len(body); i += cut {
			if err := c.feed([]byte(body[i:min(i+cut, len(body))])); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("cut %d: got lines %q, want %q", cut, got, want)
		}
	}
	for name, body := range map[string]string{
		"ErrNotHex":   "zz\r\n{}\n\r\n",
		"ErrLongLine": "200\r\n" + strings.Repeat("x", 0x200) + "\r\n",
		"ErrLongSize": strings.Repeat("0", 80) + "1\r\n",
		"ErrNoCRLF":   "2\r\n{}X",
	} {
		t.Run(name, func(t *testing.T) {
			c := chunkedLines{line: func([]byte) error { return nil }}
			if err := c.feed([]byte(body)); domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
}
