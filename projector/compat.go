package projector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// writeCompat writes the old module's keys for what ch changed in st. With
// repair, the flows message is published even if flows did not change in
// this call: workers may have missed the deploy the crash interrupted.
func (p *Projector) writeCompat(ctx context.Context, cc Compat, st *domain.State, ch domain.Change, repair bool) error {
	w := streams.CompatWrite{Namespace: st.Namespace, Revision: st.Revision, Prefix: cc.Prefix}
	enc := func(b []byte) []byte { return encodeCompat(b, cc.Compress) }
	if ch.Flows && st.Flows != nil {
		w.Flows = enc(compatFlows(st.Flows))
	}
	if ch.Credentials && st.Credentials != nil {
		w.Credentials = enc(st.Credentials)
	}
	if ch.Settings && st.Settings != nil {
		w.Settings = enc(st.Settings)
	}
	if ch.Project && st.Project != nil {
		b, _ := json.Marshal(struct {
			Name    string `json:"name"`
			Updated int64  `json:"updated"`
		}{st.Project.Name, st.Project.Updated.UnixMilli()})
		w.Project = enc(b)
	}
	if ch.Packages && repair && st.Aggregates[domain.AggregatePackages] == 0 {
		// The namespace never recorded packages (an import from an old
		// cluster whose settings key a worker had overwritten): an empty
		// list would make old workers with syncPackages uninstall theirs.
		ch.Packages = false
	}
	if ch.Packages {
		names := make([]string, 0, len(st.Packages))
		for _, pk := range st.Packages {
			names = append(names, pk.Name)
		}
		b, _ := json.Marshal(names)
		w.Packages = enc(b)
		w.Publish = append(w.Publish, streams.Message{Channel: cc.PackageChannel, Payload: string(b)})
	}
	if ch.Library != "" {
		if e, ok := st.Library[ch.Library]; ok {
			w.Library = map[string][]byte{e.Type + ":" + e.Path: enc(compatLibrary(e))}
		}
	}
	publish := (ch.Flows || ch.Credentials) && st.Flows != nil || repair
	if repair && st.Flows != nil {
		// Compat turned on for a namespace imported from an old cluster:
		// its keys, written and published by the old module itself, hold
		// these flows already. Publishing would make every old worker
		// restart the same flows, and drop requests while it does.
		same, err := p.oldModuleHolds(ctx, cc.Prefix, st)
		if err != nil {
			return err
		}
		publish = !same
	}
	if publish {
		// The old module publishes Date.now() after saving flows.
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		w.Publish = append(w.Publish, streams.Message{Channel: cc.UpdateChannel, Payload: now})
	}
	return p.store.WriteCompat(ctx, w)
}

// oldModuleHolds reports whether the old module's flows and credentials
// keys hold st's flows and credentials as the old module itself wrote them
// (its "rev" is never flowhist's sha256: it writes "0"). Keys flowhist
// wrote are never taken as published: a crash may have come between the
// write and the message.
func (p *Projector) oldModuleHolds(ctx context.Context, prefix string, st *domain.State) (bool, error) {
	fv, cv, err := p.store.ReadCompatFlows(ctx, prefix)
	if err != nil || fv == nil {
		return false, err
	}
	doc, err := DecodeCompat(fv)
	if err != nil {
		return false, nil
	}
	var old struct {
		Flows json.RawMessage `json:"flows"`
		Rev   string          `json:"rev"`
	}
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '[' {
		old.Flows = t
	} else if json.Unmarshal(doc, &old) != nil {
		return false, nil
	}
	if old.Rev == st.Flows.SHA256() || !sameJSON(old.Flows, st.Flows.Bytes()) {
		return false, nil
	}
	var creds []byte
	if cv != nil {
		if creds, err = DecodeCompat(cv); err != nil {
			return false, nil
		}
	}
	if st.Credentials == nil {
		return creds == nil || sameJSON(creds, []byte("{}")), nil
	}
	return sameJSON(creds, st.Credentials), nil
}

// sameJSON reports whether a and b are the same JSON text but for
// whitespace.
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// compatFlows is the old module's flows value: {"flows": [...], "rev": "…"}.
// Built by hand so the document's bytes stay exactly as stored.
func compatFlows(f *domain.Flows) []byte {
	doc := f.Bytes()
	var b bytes.Buffer
	b.Grow(len(doc) + 96)
	b.WriteString(`{"flows":`)
	b.Write(doc)
	b.WriteString(`,"rev":"`)
	b.WriteString(f.SHA256())
	b.WriteString(`"}`)
	return b.Bytes()
}

// compatLibrary is the old module's library value: the entry's meta
// properties with the body as "fn".
func compatLibrary(e domain.LibraryEntry) []byte {
	body, _ := json.Marshal(e.Body)
	meta := bytes.TrimSpace(e.Meta)
	var b bytes.Buffer
	if len(meta) >= 2 && meta[0] == '{' && len(bytes.TrimSpace(meta[1:len(meta)-1])) > 0 {
		b.Write(meta[:len(meta)-1])
		b.WriteString(`,"fn":`)
	} else {
		b.WriteString(`{"fn":`)
	}
	b.Write(body)
	b.WriteByte('}')
	return b.Bytes()
}

// compatThreshold is the old module's: only JSON longer than this is
// compressed.
const compatThreshold = 1024

// encodeCompat applies the old module's value encoding: with compression on
// and a text longer than 1024 characters, "gzip:" + base64(gzip(text)).
func encodeCompat(b []byte, compress bool) []byte {
	if !compress || len(b) <= compatThreshold {
		return b
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	out := make([]byte, 5+base64.StdEncoding.EncodedLen(z.Len()))
	copy(out, "gzip:")
	base64.StdEncoding.Encode(out[5:], z.Bytes())
	return out
}

// DecodeCompat reverses the old module's value encoding: a value starting
// with "gzip:" is base64 of gzip; anything else is the JSON itself. The old
// module's readers check every value this way, whatever their settings.
func DecodeCompat(v []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(v, []byte("gzip:"))
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
