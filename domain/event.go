package domain

import (
	"strings"
	"time"
)

// EventType names what happened. Types are stable strings: they are stored in
// the log and must keep their meaning forever.
type EventType string

// Event types.
const (
	FlowsDeployed     EventType = "flows.deployed"     // flows (and maybe credentials) changed
	CredentialsSaved  EventType = "credentials.saved"  // only the credentials blob changed
	FlowsRolledBack   EventType = "flows.rolledback"   // flows and credentials restored from an earlier revision
	SettingsSaved     EventType = "settings.saved"     // the runtime settings document
	LibrarySaved      EventType = "library.saved"      // one library entry
	PackagesChanged   EventType = "packages.changed"   // user-installed node modules
	ProjectActivated  EventType = "project.activated"  // the active Node-RED project
	NamespaceImported EventType = "namespace.imported" // a whole state imported at once
)

// Aggregate names. Each aggregate keeps its own revision for optimistic
// concurrency, so a settings save never makes a flows deploy conflict.
const (
	AggregateFlows    = "flows" // flows together with their credentials
	AggregateSettings = "settings"
	AggregatePackages = "packages"
	AggregateProject  = "project"
	libraryPrefix     = "library:"
)

// LibraryAggregate returns the aggregate name of one library entry.
func LibraryAggregate(typ, path string) string { return libraryPrefix + typ + ":" + path }

// IsLibraryAggregate reports whether aggregate names a library entry.
func IsLibraryAggregate(aggregate string) bool { return strings.HasPrefix(aggregate, libraryPrefix) }

// Channels an actor acts through.
const (
	ChannelNodeRED = "node-red"
	ChannelCLI     = "cli"
	ChannelAPI     = "api"
)

// Actor is who caused an event. User is who the token that appended it
// acted as (see Attribute); Channel is what the client said it came
// through, a claim nobody checks; RemoteAddr is the peer's address.
type Actor struct {
	User       string `json:"user,omitempty"`
	Channel    string `json:"channel,omitempty"`
	RemoteAddr string `json:"remoteAddr,omitempty"`
}

// Causes of an event other than a plain save.
const (
	CauseRollback = "rollback"
	CauseImport   = "import"
)

// Provenance is who caused an event, why, and what it made of its
// aggregate: the part of an event the log stores beside its payload and the
// history shows as it is.
type Provenance struct {
	Actor Actor `json:"actor"`
	// Token is the name of the token that appended the event: the one
	// identity flowhist checked ("" with authentication disabled).
	Token string `json:"token,omitempty"`
	// Claimed is who the source of an import says acted, as it says.
	Claimed       *Claim `json:"claimed,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	// SHA256 is the hex sha256 of the aggregate's document after the event
	// (for flows: of the rebuilt flows array).
	SHA256  string   `json:"sha256,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
	Cause   string   `json:"cause,omitempty"`
	// Target is the revision a rollback restored.
	Target Revision `json:"target,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Project is the Node-RED project active on the admin that made the
	// event (Projects on), "" otherwise.
	Project string `json:"project,omitempty"`
	// Promotion links a promoted flows event to its source (cause
	// promotion).
	Promotion *PromotionRef `json:"promotion,omitempty"`
}

// Event is one immutable fact in a namespace's log. Revision, Time,
// AggregateRevision and ID are assigned by the store at append; the rest is
// set by whoever appends.
type Event struct {
	ID                string    `json:"id"` // UUIDv7
	Type              EventType `json:"type"`
	Namespace         string    `json:"namespace"`
	Revision          Revision  `json:"revision"`
	Aggregate         string    `json:"aggregate"`
	AggregateRevision Revision  `json:"aggregateRevision"`
	Time              time.Time `json:"time"`
	Provenance
	// Schema is the version of Payload's format for this Type.
	Schema  int    `json:"schema"`
	Payload []byte `json:"-"`
	// Hash is the event's link in its namespace's hash chain, set by the
	// store when the event is read; "" for an event from before the chain.
	Hash string `json:"hash,omitempty"`
}

// Validate checks what every event needs before it is appended. It returns
// EINVALID naming the fault.
func (e *Event) Validate() error {
	if err := ValidateNamespace(e.Namespace); err != nil {
		return err
	}
	if e.Type == "" {
		return Errorf(EINVALID, "event has no type")
	}
	if e.Aggregate == "" {
		return Errorf(EINVALID, "event %s has no aggregate", e.Type)
	}
	if e.Schema <= 0 {
		return Errorf(EINVALID, "event %s has no payload schema version", e.Type)
	}
	return nil
}
