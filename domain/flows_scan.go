package domain

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// A hand-written single-pass JSON scanner. Every deploy validates, splits
// and hashes a document of a megabyte or more: json.Valid alone takes five
// times as long as hashing it, and encoding/json's splitting and reading
// the ids some thirty times; this takes about twice as long as hashing. It
// validates full JSON syntax, records each top-level element's bytes and
// reads the properties flowhist needs (id, type, name, z) at depth 1
// without decoding anything else. Like json.Valid it accepts invalid UTF-8
// and lone surrogate escapes (bytes are kept, not interpreted), but it notes
// the first of them, and the first node with a "credentials" property, so
// that ParseFlowsInput can refuse what a client must not send while stored
// documents stay readable.

// maxDepth is encoding/json's nesting limit, so that ParseFlows accepts
// what json.Valid accepts; it also bounds the recursion.
const maxDepth = 10000

type scanner struct {
	data  []byte
	pos   int
	depth int
	ws    bool   // insignificant whitespace seen: the input needs compacting
	what  string // "flows" or "flows patch", starts every message

	escaped []byte // the unescaped text of escaped strings kept

	// badText is 1 + the offset of the first invalid UTF-8 sequence or
	// lone surrogate escape in a string, 0 if none; badWhat says which.
	badText int
	badWhat string
	// sawCreds: an object scanned with props had a "credentials" key;
	// credsNode is 1 + the index of the first such node, 0 if none.
	sawCreds  bool
	credsNode int
}

// noteBadText records the first invalid text at offset i.
func (s *scanner) noteBadText(i int, what string) {
	if s.badText == 0 {
		s.badText, s.badWhat = i+1, what
	}
}

// element is a top-level element of a document: its bytes in data and the
// properties a node needs. Offsets are int32 to halve what a parse
// allocates; ParseFlows refuses larger documents.
type element struct {
	start, end int32
	props      [propCount]span
}

// span is a property's text: in data, or in escaped when esc. set: the key
// was present; str: its value is a string.
type span struct {
	off, end      int32
	set, str, esc bool
}

// Property slots of a node, in the order of Node's fields.
const (
	propID = iota
	propType
	propName
	propZ
	propCount
	// propCredentials is no slot: a node's "credentials" is only noted.
	propCredentials = propCount
)

func (s *scanner) syntaxError(what string) error {
	return Errorf(EINVALID, "%s: invalid JSON at byte %d: %s", s.what, s.pos, what)
}

// skipWS is called between any two tokens; compact input, the usual kind,
// has no whitespace there.
func (s *scanner) skipWS() {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return
	}
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.ws = true
			s.pos++
		default:
			return
		}
	}
}

// after reads what follows a member of an array or object: a comma (more
// follows) or the closing bracket (the end: it leaves the nesting level).
func (s *scanner) after(closing byte, what string) (more bool, err error) {
	s.skipWS()
	if s.pos >= len(s.data) {
		return false, s.syntaxError("unterminated " + what)
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return true, nil
	case closing:
		s.pos++
		s.depth--
		return false, nil
	}
	return false, s.syntaxError(fmt.Sprintf("expected ',' or '%c' in an %s", closing, what))
}

// nodes scans an array of node objects at s.pos (a '[').
func (s *scanner) nodes() ([]element, error) {
	s.pos++
	s.depth++
	elems := make([]element, 0, len(s.data)/400+1)
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return elems, nil
	}
	for i := 0; ; i++ {
		s.skipWS()
		if s.pos >= len(s.data) {
			return nil, s.syntaxError("unterminated array")
		}
		if s.data[s.pos] != '{' {
			return nil, Errorf(EINVALID, "%s: element %d is not an object", s.what, i)
		}
		e := element{start: int32(s.pos)}
		if err := s.object(&e.props); err != nil {
			return nil, err
		}
		if s.sawCreds && s.credsNode == 0 {
			s.credsNode = len(elems) + 1
		}
		switch id := e.props[propID]; {
		case !id.set:
			return nil, Errorf(EINVALID, "%s: element %d has no \"id\"", s.what, i)
		case !id.str || id.off == id.end:
			return nil, Errorf(EINVALID, "%s: element %d \"id\" is not a non-empty string", s.what, i)
		}
		e.end = int32(s.pos)
		elems = append(elems, e)
		if more, err := s.after(']', "array"); err != nil || !more {
			return elems, err
		}
	}
}

// object scans an object at s.pos (a '{'). With props (a node), it records
// the node's properties; JSON.parse keeps the last of duplicate keys, so
// later ones overwrite earlier ones.
func (s *scanner) object(props *[propCount]span) error {
	if s.depth++; s.depth > maxDepth {
		return s.syntaxError("nested too deeply")
	}
	s.pos++
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.syntaxError("expected a string key")
		}
		ks := s.pos + 1
		escaped, err := s.str()
		if err != nil {
			return err
		}
		ke := s.pos - 1
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.syntaxError("expected ':' after a key")
		}
		s.pos++
		s.skipWS()
		k := -1
		if props != nil {
			k = prop(s.data[ks:ke], escaped)
		}
		switch {
		case k < 0:
			err = s.value()
		case k == propCredentials:
			s.sawCreds = true
			err = s.value()
		case s.pos < len(s.data) && s.data[s.pos] == '"':
			props[k], err = s.text()
		default:
			props[k] = span{set: true}
			err = s.value()
		}
		if err != nil {
			return err
		}
		if more, err := s.after('}', "object"); err != nil || !more {
			return err
		}
	}
}

// prop returns the property slot of a key, or -1.
func prop(key []byte, escaped bool) int {
	if escaped {
		key = appendUnescaped(nil, key)
	}
	switch string(key) {
	case "id":
		return propID
	case "type":
		return propType
	case "name":
		return propName
	case "z":
		return propZ
	case "credentials":
		return propCredentials
	}
	return -1
}

// text scans a string at s.pos (a '"') and returns where its value is.
func (s *scanner) text() (span, error) {
	start := s.pos + 1
	escaped, err := s.str()
	if err != nil || !escaped {
		return span{off: int32(start), end: int32(s.pos - 1), set: true, str: true}, err
	}
	off := len(s.escaped)
	s.escaped = appendUnescaped(s.escaped, s.data[start:s.pos-1])
	return span{off: int32(off), end: int32(len(s.escaped)), set: true, str: true, esc: true}, nil
}

// resolve makes nodes of elements. Their strings share one allocation, so
// that a document costs one for all its ids, types, names and zs rather
// than one each.
func (s *scanner) resolve(elems []element) []Node {
	n := 0
	for i := range elems {
		for _, sp := range elems[i].props {
			n += int(sp.end - sp.off)
		}
	}
	var b strings.Builder
	b.Grow(n)
	for i := range elems {
		for k := range elems[i].props {
			sp := &elems[i].props[k]
			if !sp.str {
				continue
			}
			off := b.Len()
			if sp.esc {
				b.Write(s.escaped[sp.off:sp.end])
			} else {
				b.Write(s.data[sp.off:sp.end])
			}
			sp.off, sp.end = int32(off), int32(b.Len())
		}
	}
	all := b.String()
	get := func(sp span) string { return all[sp.off:sp.end] }
	nodes := make([]Node, len(elems))
	for i, e := range elems {
		nodes[i] = Node{
			ID:   get(e.props[propID]),
			Type: get(e.props[propType]),
			Name: get(e.props[propName]),
			Z:    get(e.props[propZ]),
			Raw:  s.data[e.start:e.end:e.end],
		}
	}
	return nodes
}

// value scans any JSON value at s.pos (whitespace already skipped).
func (s *scanner) value() error {
	if s.pos >= len(s.data) {
		return s.syntaxError("unexpected end of input")
	}
	switch c := s.data[s.pos]; c {
	case '"':
		_, err := s.str()
		return err
	case '{':
		return s.object(nil)
	case '[':
		return s.array()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			return s.number()
		}
		return s.syntaxError(fmt.Sprintf("unexpected %q", c))
	}
}

func (s *scanner) array() error {
	if s.depth++; s.depth > maxDepth {
		return s.syntaxError("nested too deeply")
	}
	s.pos++
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipWS()
		if err := s.value(); err != nil {
			return err
		}
		if more, err := s.after(']', "array"); err != nil || !more {
			return err
		}
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.syntaxError("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	d, i := s.data, s.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		s.pos = i
		return s.syntaxError("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			s.pos = i
			return s.syntaxError("invalid number")
		}
		i = digits(d, i)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			s.pos = i
			return s.syntaxError("invalid number")
		}
		i = digits(d, i)
	}
	s.pos = i
	return nil
}

func digits(d []byte, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

// str scans a string at s.pos (a '"'), leaving s.pos after its closing
// quote, and reports whether it has escapes.
func (s *scanner) str() (escaped bool, err error) {
	d := s.data
	i := s.pos + 1
	for {
		i = textEnd(d, i)
		if i >= len(d) {
			s.pos = i
			return false, s.syntaxError("unterminated string")
		}
		switch c := d[i]; {
		case c >= utf8.RuneSelf:
			// A run of non-ASCII bytes holds whole sequences if valid.
			j := nonASCIIEnd(d, i+1)
			if s.badText == 0 && !utf8.Valid(d[i:j]) {
				s.noteBadText(i+invalidUTF8(d[i:j]), "invalid UTF-8")
			}
			i = j
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				s.pos = i
				return false, s.syntaxError("unterminated string")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					s.pos = i
					return false, s.syntaxError(`invalid \u escape`)
				}
				if d[i+2]|0x20 == 'd' {
					i = s.surrogate(d, i)
				} else {
					i += 6
				}
			default:
				s.pos = i
				return false, s.syntaxError(fmt.Sprintf("invalid escape %q", d[i:i+2]))
			}
		default:
			s.pos = i
			return false, s.syntaxError(fmt.Sprintf("control character %#02x in a string", c))
		}
	}
}

// surrogate checks the \u escape at i, whose code unit is from U+D000 to
// U+DFFF: a high surrogate must be followed by a low one's escape, a low
// one must follow a high one. It returns the index after the escape (the
// pair's, for a pair).
func (s *scanner) surrogate(d []byte, i int) int {
	r := hex4(d[i+2:])
	switch {
	case r < 0xD800:
		return i + 6
	case r < 0xDC00 && i+12 <= len(d) && d[i+6] == '\\' && d[i+7] == 'u' &&
		isHex(d[i+8]) && isHex(d[i+9]) && isHex(d[i+10]) && isHex(d[i+11]):
		if lo := hex4(d[i+8:]); lo >= 0xDC00 && lo < 0xE000 {
			return i + 12
		}
	}
	s.noteBadText(i, fmt.Sprintf(`lone surrogate escape %s`, d[i:i+6]))
	return i + 6
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// textEnd is plainEnd that also stops at the first byte of a multi-byte
// UTF-8 sequence, which the caller checks: each word costs one more OR.
func textEnd(d []byte, i int) int {
	for ; i+8 <= len(d); i += 8 {
		x := binary.LittleEndian.Uint64(d[i:])
		q := x ^ (lsb * '"')
		b := x ^ (lsb * '\\')
		if m := ((q-lsb)&^q | (b-lsb)&^b | (x-lsb*0x20)&^x | x) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(d); i++ {
		if c := d[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// nonASCIIEnd returns the index of the first ASCII byte at or after i, or
// len(d), eight bytes at a time.
func nonASCIIEnd(d []byte, i int) int {
	for ; i+8 <= len(d); i += 8 {
		if m := ^binary.LittleEndian.Uint64(d[i:]) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(d) && d[i] >= utf8.RuneSelf {
		i++
	}
	return i
}

// invalidUTF8 returns the offset of the first invalid sequence in b.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// appendUnescaped appends the value of a valid string's contents. A lone
// surrogate escape, which JSON.parse keeps as a UTF-16 code unit, becomes
// its 3-byte generalized UTF-8 form rather than U+FFFD, so that ids that
// differ in JavaScript differ here too; appendQuoted turns it back.
func appendUnescaped(b, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			b = append(b, raw[i:j]...)
			i = j
			continue
		}
		switch c = raw[i+1]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo := hex4(raw[i+2:]); lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			b = appendWTF8(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, c)
		}
		i += 2
	}
	return b
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendWTF8 appends r in UTF-8, encoding surrogates like any other code
// point (utf8.AppendRune would turn them into U+FFFD).
func appendWTF8(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	default:
		return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
}

// appendQuoted appends s as a JSON string that appendUnescaped turns back
// into s: quotes, backslashes and control characters escaped as
// JSON.stringify escapes them, surrogates as \u escapes, nothing else (no
// HTML escaping).
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		n := 1
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c == '\b':
			esc = `\b`
		case c == '\f':
			esc = `\f`
		case c < 0x20:
			esc = `\u00` + string(hex[c>>4]) + string(hex[c&0xF])
		case c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] < 0xC0 && s[i+2] >= 0x80 && s[i+2] < 0xC0:
			r := 0xD000 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			esc = `\u` + string(hex[r>>12]) + string(hex[r>>8&0xF]) + string(hex[r>>4&0xF]) + string(hex[r&0xF])
			n = 3
		default:
			i++
			continue
		}
		b = append(append(b, s[start:i]...), esc...)
		i += n
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// compact returns valid JSON without insignificant whitespace, strings
// byte for byte (json.Compact escapes nothing).
func compact(data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data))
	if err := json.Compact(&b, data); err != nil {
		return data // scanned as valid already: cannot happen
	}
	return b.Bytes()
}
