package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Payload schema versions. A payload is always decoded by its event's Type
// and Schema, so an old event stays readable after the format evolves: add
// a new version, keep decoding the old one.
const (
	FlowsPayloadSchema    = 1
	SettingsPayloadSchema = 1
	LibraryPayloadSchema  = 1
	PackagesPayloadSchema = 1
	ProjectPayloadSchema  = 1
)

// FlowsPayload is the payload of flows.deployed, credentials.saved and
// flows.rolledback: the patch against the aggregate's previous document and,
// when they changed, the credentials exactly as Node-RED encrypted them.
type FlowsPayload struct {
	Patch FlowsPatch
	// Credentials is Node-RED's credentials JSON (normally {"$":"…"},
	// encrypted with the credentialSecret); nil when unchanged.
	Credentials json.RawMessage
}

// MarshalJSON encodes p by hand so that node bytes are stored exactly as
// received (encoding/json would HTML-escape and re-compact them).
func (p FlowsPayload) MarshalJSON() ([]byte, error) {
	patch, err := p.Patch.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(patch) + len(p.Credentials) + 32)
	b.WriteString(`{"patch":`)
	b.Write(patch)
	if p.Credentials != nil {
		if !json.Valid(p.Credentials) {
			return nil, Errorf(EINVALID, "credentials are not valid JSON")
		}
		b.WriteString(`,"credentials":`)
		b.Write(p.Credentials)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (p *FlowsPayload) UnmarshalJSON(data []byte) error {
	var raw struct {
		Patch       FlowsPatch      `json:"patch"`
		Credentials json.RawMessage `json:"credentials"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	p.Patch, p.Credentials = raw.Patch, raw.Credentials
	return nil
}

// SettingsPayload is the payload of settings.saved: the whole settings
// document as the runtime passed it.
type SettingsPayload struct {
	Settings json.RawMessage `json:"settings"`
}

// LibraryEntry is one entry of Node-RED's library.
type LibraryEntry struct {
	Type string          `json:"type"`
	Path string          `json:"path"`
	Meta json.RawMessage `json:"meta,omitempty"`
	Body string          `json:"body"`
}

// LibraryPayload is the payload of library.saved.
type LibraryPayload struct {
	Entry LibraryEntry `json:"entry"`
}

// Package is one user-installed node module.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// PackagesPayload is the payload of packages.changed: the whole list after
// the change, sorted by name.
type PackagesPayload struct {
	Packages []Package `json:"packages"`
}

// ProjectPayload is the payload of project.activated.
type ProjectPayload struct {
	Name string `json:"name"`
}

// EncodePayload encodes v as a payload without HTML escaping, so stored text
// (function code, templates) keeps its bytes.
func EncodePayload(v any) ([]byte, error) {
	if m, ok := v.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// DecodePayload decodes e's payload into v, checking that the schema is one
// this version reads.
func DecodePayload(e *Event, v any) error {
	want := payloadSchema(e.Type)
	if want == 0 {
		return fmt.Errorf("revision %d: unknown event type %q", e.Revision, e.Type)
	}
	if e.Schema != want {
		return fmt.Errorf("revision %d: %s payload schema %d is not readable by this version (reads %d)", e.Revision, e.Type, e.Schema, want)
	}
	if fp, ok := v.(*FlowsPayload); ok {
		if q, done, err := decodeFlowsPayload(e.Payload); done {
			if err != nil {
				return fmt.Errorf("revision %d: decode %s payload: %w", e.Revision, e.Type, err)
			}
			*fp = q
			return nil
		}
	}
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("revision %d: decode %s payload: %w", e.Revision, e.Type, err)
	}
	return nil
}

// PayloadSchema returns the payload schema version this version writes for
// t, or 0 for an unknown type.
func PayloadSchema(t EventType) int { return payloadSchema(t) }

func payloadSchema(t EventType) int {
	switch t {
	case FlowsDeployed, CredentialsSaved, FlowsRolledBack:
		return FlowsPayloadSchema
	case SettingsSaved:
		return SettingsPayloadSchema
	case LibrarySaved:
		return LibraryPayloadSchema
	case PackagesChanged:
		return PackagesPayloadSchema
	case ProjectActivated:
		return ProjectPayloadSchema
	}
	if IsRolloutEvent(t) {
		return RolloutPayloadSchema
	}
	return 0
}
