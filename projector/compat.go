package projector

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/oldmodule"
	"github.com/flowhist/flowhist/streams"
)

// writeCompat writes the old module's keys for what ch changed in st. With
// repair, the flows message is published even if flows did not change in
// this call: workers may have missed the deploy the crash interrupted.
func (p *Projector) writeCompat(ctx context.Context, cc Compat, st *domain.State, ch domain.Change, repair bool) error {
	w := streams.CompatWrite{Namespace: st.Namespace, Revision: st.Revision, Prefix: cc.Prefix}
	enc := func(b []byte) []byte { return oldmodule.Encode(b, cc.Compress) }
	if ch.Flows && st.Flows != nil {
		w.Flows = enc(oldmodule.Flows(st.Flows))
	}
	if ch.Credentials && st.Credentials != nil {
		w.Credentials = enc(st.Credentials)
	}
	if ch.Settings && st.Settings != nil {
		w.Settings = enc(st.Settings)
	}
	if ch.Project && st.Project != nil {
		w.Project = enc(oldmodule.Project(st.Project.Name, st.Project.Updated))
	}
	if ch.Packages && repair && st.Aggregates[domain.AggregatePackages] == 0 {
		// The namespace never recorded packages (an import from an old
		// cluster whose settings key a worker had overwritten): an empty
		// list would make old workers with syncPackages uninstall theirs.
		ch.Packages = false
	}
	if ch.Packages {
		b := oldmodule.Packages(st.Packages)
		w.Packages = enc(b)
		w.Publish = append(w.Publish, streams.Message{Channel: cc.PackageChannel, Payload: string(b)})
	}
	if ch.Library != "" {
		if e, ok := st.Library[ch.Library]; ok {
			w.Library = map[string][]byte{e.Type + ":" + e.Path: enc(oldmodule.Library(e))}
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
	doc, err := oldmodule.Decode(fv)
	if err != nil {
		return false, nil
	}
	old, err := oldmodule.ParseFlows(doc)
	if err != nil {
		return false, nil
	}
	if old.Rev == st.Flows.SHA256() || !sameJSON(old.Flows, st.Flows.Bytes()) {
		return false, nil
	}
	var creds []byte
	if cv != nil {
		if creds, err = oldmodule.Decode(cv); err != nil {
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

// DecodeCompat is oldmodule.Decode, kept for the e2e tests that still
// call it here.
func DecodeCompat(v []byte) ([]byte, error) { return oldmodule.Decode(v) }
