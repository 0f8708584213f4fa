package bundle

import (
	"encoding/json"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// Format is the version in the header line; it changes when the lines
// change meaning. Reader reads this version only.
const Format = 1

// Header is the first line of a bundle.
type Header struct {
	Format    int             `json:"flowhistExport"`
	Namespace string          `json:"namespace"`
	Revision  domain.Revision `json:"revision"`
	Exported  time.Time       `json:"exported"`
	// Chain is the source log's hash chain: where stored links start and
	// the link at Revision. Absent in bundles written before the chain.
	Chain *Chain `json:"chain,omitempty"`
}

// Chain is what a bundle records of its source's hash chain
// (streams/chain.go).
type Chain struct {
	// Start is the first revision that stores its link; Anchor links the
	// revisions before it (all zeros when Start is 1).
	Start  domain.Revision `json:"start"`
	Anchor string          `json:"anchor"`
	// Head is the link of the bundle's last revision.
	Head string `json:"head"`
}

// Checkpoint is a line after the events: one signed checkpoint of the
// source (package checkpoint's JSON) covering a revision the bundle holds,
// so that whoever reads the bundle can check its links against
// signatures kept elsewhere.
type Checkpoint struct {
	Checkpoint json.RawMessage `json:"checkpoint"`
}

// Event is one line of a bundle after the header: one event of the log
// with the whole document of its aggregate after it (the flows and
// credentials after a flows event, the settings after a settings event,
// and so on).
type Event struct {
	Revision    domain.Revision      `json:"revision"`
	Type        domain.EventType     `json:"type"`
	Time        time.Time            `json:"time"`
	Actor       domain.Actor         `json:"actor"`
	Token       string               `json:"token,omitempty"`   // the token that appended it
	Claimed     *domain.Claim        `json:"claimed,omitempty"` // who an import's source said acted
	Cause       string               `json:"cause,omitempty"`
	Target      domain.Revision      `json:"target,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	Flows       json.RawMessage      `json:"flows,omitempty"`
	Credentials json.RawMessage      `json:"credentials,omitempty"`
	Settings    json.RawMessage      `json:"settings,omitempty"`
	Entry       *domain.LibraryEntry `json:"entry,omitempty"`
	Packages    []domain.Package     `json:"packages,omitempty"`
	Project     *string              `json:"project,omitempty"`
	// Hash is the event's link in the source's hash chain, "" for an
	// event from before the chain.
	Hash string `json:"hash,omitempty"`
}
