package httpapi

import (
	"encoding/json"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// The API's answers, one type each: the server writes them, the CLI reads
// them, the tests check them, and golden files (testdata/answers) pin their
// JSON. Fields of answers that were JSON objects with sorted keys are
// declared in that order, so that the JSON stays as it was.

// Error is every error answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// CurrentRevision is set with the conflict code: the aggregate
	// revision to expect instead.
	CurrentRevision *domain.Revision `json:"currentRevision,omitempty"`
}

// Saved is the answer of every save that appends: PUT flows, credentials,
// settings and library entries, POST deploy and rollback.
type Saved struct {
	AggregateRevision domain.Revision `json:"aggregateRevision"`
	// Duplicate is true when an Idempotency-Key answered an earlier save.
	Duplicate bool `json:"duplicate,omitempty"`
	// Durability is what Valkey confirmed, when durability is configured.
	Durability *streams.DurabilityResult `json:"durability,omitempty"`
	// FlowsRevision is set by saves of flows or credentials.
	FlowsRevision domain.Revision `json:"flowsRevision,omitempty"`
	// PackagesRevision is set when a settings save implied a packages
	// change, appended after it.
	PackagesRevision domain.Revision `json:"packagesRevision,omitempty"`
	Revision         domain.Revision `json:"revision"`
	SHA256           string          `json:"sha256,omitempty"`
	// Summary is set by saves of flows or credentials.
	Summary *domain.Summary `json:"summary,omitempty"`
}

// RollbackNoop is the answer of a rollback to what is current.
type RollbackNoop struct {
	FlowsRevision domain.Revision `json:"flowsRevision"`
	Message       string          `json:"message"`
	Noop          bool            `json:"noop"`
	Revision      domain.Revision `json:"revision"`
	SHA256        string          `json:"sha256"`
}

// SessionsSaved is the answer of PUT sessions.
type SessionsSaved struct {
	Saved bool `json:"saved"`
}

// LibraryEntry is the answer of GET library/{type}?path= for an entry.
type LibraryEntry struct {
	Body string          `json:"body"`
	Meta json.RawMessage `json:"meta"`
}

// LibraryListing is the answer of GET library/{type}?path= for a
// directory: sub-directory names, then {"fn": name, …meta} per entry.
type LibraryListing struct {
	Listing []any `json:"listing"`
}

// HistoryEntry is one event as the history shows it: credentials only as
// changed, with the ciphertext's hash; settings with secrets redacted.
type HistoryEntry struct {
	Revision          domain.Revision  `json:"revision"`
	Time              time.Time        `json:"time"`
	Type              domain.EventType `json:"type"`
	Aggregate         string           `json:"aggregate"`
	AggregateRevision domain.Revision  `json:"aggregateRevision"`
	domain.Provenance
	Credentials *CredentialsRef `json:"credentials,omitempty"`
	// Payload is set by GET revisions/{rev} for settings, library,
	// packages and project events.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// AuditEntry is one event of GET /v1/audit: a history entry with the
// namespace it belongs to, its link in that namespace's hash chain (to
// check against signed checkpoints) and its cursor in the audit's order.
type AuditEntry struct {
	Namespace string `json:"namespace"`
	Hash      string `json:"hash"`
	Cursor    string `json:"cursor"`
	HistoryEntry
}

// Audit is the answer of GET /v1/audit with format=json: newest first.
type Audit struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

// CredentialsRef says that credentials changed without showing them.
type CredentialsRef struct {
	Changed bool   `json:"changed"`
	SHA256  string `json:"sha256,omitempty"`
}

// History is the answer of GET history: newest first.
type History struct {
	Entries    []HistoryEntry `json:"entries"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// Diff is the answer of GET diff.
type Diff struct {
	Added       []domain.NodeRef    `json:"added"`
	Changed     []domain.NodeChange `json:"changed"`
	Credentials CredentialsRef      `json:"credentials"`
	From        domain.Revision     `json:"from"`
	Removed     []domain.NodeRef    `json:"removed"`
	To          domain.Revision     `json:"to"`
}

// NodeHistory is the answer of GET nodes/{id}/history: newest first.
type NodeHistory struct {
	Entries    []NodeHistoryEntry `json:"entries"`
	NextCursor string             `json:"nextCursor,omitempty"`
	Node       string             `json:"node"`
}

// NodeHistoryEntry is one revision that touched a node.
type NodeHistoryEntry struct {
	Revision     domain.Revision         `json:"revision"`
	Time         time.Time               `json:"time"`
	Type         domain.EventType        `json:"type"`
	Actor        domain.Actor            `json:"actor"`
	Token        string                  `json:"token,omitempty"` // the token that appended it
	Change       string                  `json:"change"`          // added, changed, removed
	PositionOnly bool                    `json:"positionOnly,omitempty"`
	Moved        *domain.Move            `json:"moved,omitempty"`
	Group        *domain.Move            `json:"group,omitempty"`
	Properties   []domain.PropertyChange `json:"properties"`
	Cause        string                  `json:"cause,omitempty"`
	Reason       string                  `json:"reason,omitempty"`
}

// HistoryKinds is the answer of GET history/kinds: the values of the
// history's kind filter, in the order the editor offers them.
type HistoryKinds struct {
	Kinds []string `json:"kinds"`
}

// FeedNews is what a feed request answers when entries were delivered (and
// each line of a streamed feed): a burst coalesced to its newest revision.
type FeedNews struct {
	// Revision is the newest namespace revision delivered; ack it, with
	// ID, after acting on it.
	Revision domain.Revision `json:"revision"`
	// ID is the id of the event at Revision: the worker names it when it
	// acknowledges, and as afterId when it asks again.
	ID string `json:"id,omitempty"`
	// Flows is true when any delivered event changed flows or credentials:
	// the worker reloads.
	Flows bool `json:"flows"`
	// Packages is true when the user-installed modules changed.
	Packages bool `json:"packages"`
	// Events is how many entries the burst had.
	Events int `json:"events"`
	// Reset: the log does not hold what the worker runs (Valkey lost a
	// write the worker had been told of, or was restored). The worker
	// reloads everything (flows, credentials, packages) at Revision, the
	// head, and acknowledges it with ID. Events is 0.
	Reset bool `json:"reset,omitempty"`
	// Rollout: a rollout event was among the entries (not sent).
	Rollout bool `json:"-"`
	// Target is the position whose flows the worker's ring runs, when the
	// namespace has a rollout policy (docs/rollout.md): the worker reloads
	// (GET flows?ring=) when its id differs from the flows it runs.
	Target *domain.Position `json:"target,omitempty"`
}

// Acked is the answer of POST feed/ack.
type Acked struct {
	Acknowledged domain.Revision `json:"acknowledged"`
	Entries      int             `json:"entries"`
}

// Workers is the answer of GET workers.
type Workers struct {
	Revision domain.Revision `json:"revision"`
	Workers  []WorkerInfo    `json:"workers"`
}

// WorkerInfo is one worker in Workers.
type WorkerInfo struct {
	Worker        string          `json:"worker"`
	Acknowledged  domain.Revision `json:"acknowledged"`
	LastDelivered domain.Revision `json:"lastDelivered"`
	// Lag is how many revisions the worker has not acknowledged yet; at
	// least 1 for a diverged worker.
	Lag uint64 `json:"lag"`
	// Diverged: the worker runs (or ran, until it acknowledges the head)
	// an event the log does not hold: Valkey lost a write it had been
	// told of, at revision DivergedAt. Its feed tells it to reload.
	Diverged    bool            `json:"diverged,omitempty"`
	DivergedAt  domain.Revision `json:"divergedAt,omitempty"`
	Pending     int64           `json:"pending"`
	IdleSeconds float64         `json:"idleSeconds"`
	// Packages is the worker's last package report (worker_status.go);
	// absent when it sent none.
	Packages *WorkerPackages `json:"packages,omitempty"`
	// Ring is the ring the worker named on the feed (absent: default).
	Ring string `json:"ring,omitempty"`
	// Health is the worker's last health report (rollout.go); absent
	// when it sent none.
	Health *domain.StoredHealth `json:"health,omitempty"`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Message string `json:"message,omitempty"`
	Status  string `json:"status"`
	// Warnings are what a ready server still risks, such as a durability
	// setting that can lose an acknowledged deploy in a failover.
	Warnings []string `json:"warnings,omitempty"`
	// FailingVerification lists the namespaces whose log's hash chain
	// broke as the projector caught up: the service is ready, but nothing
	// is written to those until their logs are repaired.
	FailingVerification []FailingNamespace `json:"failingVerification,omitempty"`
}

// FailingNamespace is a namespace that failed verification, in /readyz.
type FailingNamespace struct {
	Namespace string          `json:"namespace"`
	Revision  domain.Revision `json:"revision"`
	Problem   string          `json:"problem"`
	Since     time.Time       `json:"since"`
}
