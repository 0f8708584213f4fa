package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Promotion between namespaces (docs/promotion.md): the policy that
// protects a namespace, the overlay of what it keeps its own, the review
// of a request, and the events that record them.

// Event types of promotion and its policy.
const (
	PromotionRequested EventType = "promotion.requested" // a pending promotion recorded for review
	PromotionApproved  EventType = "promotion.approved"  // a request approved and applied
	PromotionRejected  EventType = "promotion.rejected"  // a request rejected (or withdrawn)
	PolicySet          EventType = "namespace.policy"    // a namespace's policy replaced
	OverlaySet         EventType = "namespace.overlay"   // a namespace's overlay replaced
)

// Aggregates of promotion's events.
const (
	AggregatePromotion = "promotion"
	AggregatePolicy    = "policy"
	AggregateOverlay   = "overlay"
)

// EDRIFT is the code of two namespaces that differ beyond the target's own
// values (flowhist drift): the check ran and found a difference.
const EDRIFT = "drift"

// CausePromotion is the cause of the flows event a promotion appends.
const CausePromotion = "promotion"

// PromotionPayloadSchema is the payload schema of every promotion and
// policy event.
const PromotionPayloadSchema = 1

// IsPromotionEvent reports whether t is one of promotion's record events
// (they change no flows, settings or packages).
func IsPromotionEvent(t EventType) bool {
	switch t {
	case PromotionRequested, PromotionApproved, PromotionRejected, PolicySet, OverlaySet:
		return true
	}
	return false
}

// Policy is a namespace's promotion policy.
type Policy struct {
	// Protected refuses direct deploys and saves: only promotions and
	// rollbacks land.
	Protected bool `json:"protected"`
	// PromotesFrom are the sources a protected namespace names in its
	// refusal, and when set the only sources it takes promotions from.
	PromotesFrom []string `json:"promotesFrom"`
	// PromotionTargets are the namespaces the editor offers to promote to.
	PromotionTargets []string `json:"promotionTargets"`
	// DirectPromotions lets a protected namespace take promotions without
	// an approved request.
	DirectPromotions bool `json:"directPromotions"`
	// CredentialFingerprint is the hex sha256 the Node-RED module derives
	// from its credential secret; "" when unknown.
	CredentialFingerprint string `json:"credentialFingerprint"`
}

// maxPolicyList bounds a policy's namespace lists.
const maxPolicyList = 100

// Validate checks p and fills nil lists with empty ones.
//
// Errors: EINVALID.
func (p *Policy) Validate() error {
	for _, l := range []*[]string{&p.PromotesFrom, &p.PromotionTargets} {
		if *l == nil {
			*l = []string{}
		}
		if len(*l) > maxPolicyList {
			return Errorf(EINVALID, "a policy names at most %d namespaces per list", maxPolicyList)
		}
		for _, ns := range *l {
			if err := ValidateNamespace(ns); err != nil {
				return err
			}
		}
	}
	return ValidateFingerprint(p.CredentialFingerprint)
}

// ValidateFingerprint checks a credential secret fingerprint: "" or 64
// lower-case hex digits.
//
// Errors: EINVALID.
func ValidateFingerprint(fp string) error {
	if fp == "" {
		return nil
	}
	if len(fp) != 64 || strings.Trim(fp, "0123456789abcdef") != "" {
		return Errorf(EINVALID, "credential fingerprint must be 64 lower-case hex digits (sha256 of \"flowhist credential fingerprint\\n\" + credentialSecret)")
	}
	return nil
}

// RefuseDirect is the error a protected namespace answers a direct deploy
// or save with; nil when p is not protected.
//
// Errors: EFORBIDDEN.
func (p Policy) RefuseDirect() error {
	if !p.Protected {
		return nil
	}
	if len(p.PromotesFrom) == 0 {
		return Errorf(EFORBIDDEN, "protected: promote into it")
	}
	return Errorf(EFORBIDDEN, "protected: promote from %s", strings.Join(p.PromotesFrom, " or "))
}

// AcceptsFrom reports, as an error, whether p takes a promotion from
// source.
//
// Errors: EFORBIDDEN.
func (p Policy) AcceptsFrom(source, target string) error {
	if len(p.PromotesFrom) == 0 {
		return nil
	}
	for _, s := range p.PromotesFrom {
		if s == source {
			return nil
		}
	}
	return Errorf(EFORBIDDEN, "%s takes promotions only from %s", target, strings.Join(p.PromotesFrom, " or "))
}

// Overlay is what a namespace keeps its own through promotions.
type Overlay struct {
	Properties []OverlayProperty `json:"properties"`
	Env        []string          `json:"env"`
}

// OverlayProperty is one property of one node: a dotted path into it.
type OverlayProperty struct {
	Node string `json:"node"`
	Path string `json:"path"`
}

// maxOverlay bounds each list of an overlay.
const maxOverlay = 1000

// Validate checks o and fills nil lists with empty ones.
//
// Errors: EINVALID.
func (o *Overlay) Validate() error {
	if o.Properties == nil {
		o.Properties = []OverlayProperty{}
	}
	if o.Env == nil {
		o.Env = []string{}
	}
	if len(o.Properties) > maxOverlay || len(o.Env) > maxOverlay {
		return Errorf(EINVALID, "an overlay lists at most %d properties and %d env names", maxOverlay, maxOverlay)
	}
	for _, p := range o.Properties {
		if p.Node == "" || p.Path == "" {
			return Errorf(EINVALID, "an overlay property needs a node id and a property path (node:path)")
		}
		if err := ValidateLabel("overlay node", p.Node, MaxClaim); err != nil {
			return err
		}
		if err := ValidateLabel("overlay path", p.Path, MaxClaim); err != nil {
			return err
		}
		if p.Path == "id" || strings.HasPrefix(p.Path, ".") || strings.HasSuffix(p.Path, ".") || strings.Contains(p.Path, "..") {
			return Errorf(EINVALID, "overlay path %q is not a dotted property path such as url or headers.auth", Clip(p.Path))
		}
	}
	for _, e := range o.Env {
		if e == "" {
			return Errorf(EINVALID, "an overlay env name is empty")
		}
		if err := ValidateLabel("overlay env name", e, MaxClaim); err != nil {
			return err
		}
	}
	return nil
}

// EventRef names one event of a namespace: its revision and identity, the
// flows revision as of it, and its link in the hash chain.
type EventRef struct {
	Revision      Revision `json:"revision"`
	FlowsRevision Revision `json:"flowsRevision,omitempty"`
	ID            string   `json:"id"`
	Hash          string   `json:"hash,omitempty"`
}

// PromotionRef is the provenance of a promoted flows event: the source's
// namespace, revision, event and chain hash, and the request approved (""
// for a direct promotion).
type PromotionRef struct {
	Namespace string   `json:"namespace"`
	Revision  Revision `json:"revision"`
	ID        string   `json:"id"`
	Hash      string   `json:"hash,omitempty"`
	Request   string   `json:"request,omitempty"`
}

// Identity is who acts, as issue #18 binds it: the token and the user it
// acts as.
type Identity struct {
	User  string `json:"user,omitempty"`
	Token string `json:"token,omitempty"`
}

// IdentityOf is the identity of an origin.
func IdentityOf(o Origin) Identity { return Identity{User: o.Actor.User, Token: o.Token} }

// SamePerson reports whether a and b are the same person: their users are
// equal (users are bound to tokens: only a token trusted to assert users
// names one other than itself), or, both without a user, their tokens are.
// Two anonymous identities (authentication disabled, no user) are the same.
// Users are compared as they read (personName), so that a name spelt
// with fullwidth letters or an invisible character is not another person.
func SamePerson(a, b Identity) bool {
	if a.User != "" || b.User != "" {
		return strings.EqualFold(personName(a.User), personName(b.User))
	}
	return a.Token == b.Token
}

// personName is how user reads: fullwidth forms folded to their ASCII
// letters (ａ is a), format characters dropped (zero-width spaces and
// joiners, soft hyphens, byte order marks), spaces of every kind (no-break,
// ideographic) trimmed and each run of them one space. The standard library
// only: domain imports nothing else.
func personName(user string) string {
	user = strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Cf, r):
			return -1
		case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII variants
			return r - 0xFEE0
		}
		return r
	}, user)
	return strings.Join(strings.Fields(user), " ")
}

// Request states.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestRejected = "rejected"
)

// Decision is who decided a request, when, and why.
type Decision struct {
	Identity
	Time   time.Time `json:"time"`
	Reason string    `json:"reason,omitempty"`
}

// PromotionRequest is a promotion recorded for review.
type PromotionRequest struct {
	ID              string    `json:"id"`
	State           string    `json:"state"`
	Stale           bool      `json:"stale"`
	From            string    `json:"from"`
	To              string    `json:"to"`
	Source          EventRef  `json:"source"`
	TargetHead      EventRef  `json:"targetHead"`
	WithCredentials bool      `json:"withCredentials"`
	Reason          string    `json:"reason"`
	RequestedBy     Decision  `json:"requestedBy"`
	DecidedBy       *Decision `json:"decidedBy,omitempty"`
	AppliedRevision Revision  `json:"appliedRevision,omitempty"`
	// Preview is the frozen preview: what the reviewer saw.
	Preview PromotionPreview `json:"preview"`
}

// PromotionPreview is what a promotion would change on its target.
type PromotionPreview struct {
	From        string            `json:"from"`
	Source      EventRef          `json:"source"`
	To          string            `json:"to"`
	TargetHead  EventRef          `json:"targetHead"`
	Noop        bool              `json:"noop"`
	Diff        PreviewDiff       `json:"diff"`
	EnvNew      []EnvKey          `json:"envNew"`
	EnvOverlaid []EnvKey          `json:"envOverlaid"`
	OverlayKept []OverlayProperty `json:"overlayKept"`
	// CredentialsMissing are nodes whose credentials the target lacks.
	CredentialsMissing []NodeRef `json:"credentialsMissing"`
	// Credentials is "kept", "copied" or "unknown".
	Credentials string `json:"credentials"`
	// ResultSHA256 is the sha256 of the target's flows after the
	// promotion: an approval applies exactly this or nothing.
	ResultSHA256 string `json:"resultSha256"`
}

// PreviewDiff is a preview's change, in the shape of GET diff.
type PreviewDiff struct {
	FlowsDiff
	Credentials struct {
		Changed bool `json:"changed"`
	} `json:"credentials"`
}

// Credentials of a preview.
const (
	CredentialsKept    = "kept"
	CredentialsCopied  = "copied"
	CredentialsUnknown = "unknown"
)

// NewPromotionPreview builds the preview of merging m onto target, with the
// credentials it would write (nil: the target's are kept).
func NewPromotionPreview(m Merged, target *Flows, targetCreds, sourceCreds, creds []byte) PromotionPreview {
	d := DiffFlowsNodes(target, m.Flows)
	p := PromotionPreview{
		EnvNew: nonNil(m.EnvNew), EnvOverlaid: nonNil(m.EnvOverlaid), OverlayKept: nonNil(m.OverlayKept),
		ResultSHA256: m.Flows.SHA256(),
	}
	p.Diff.Added, p.Diff.Removed, p.Diff.Changed = nonNil(d.Added), nonNil(d.Removed), nonNil(d.Changed)
	if creds != nil {
		p.Credentials, p.CredentialsMissing = CredentialsCopied, []NodeRef{}
		p.Diff.Credentials.Changed = !bytes.Equal(creds, targetCreds)
	} else {
		missing, known := MissingCredentials(m.Flows, sourceCreds, targetCreds)
		p.Credentials, p.CredentialsMissing = CredentialsKept, missing
		if !known {
			p.Credentials = CredentialsUnknown
		}
	}
	p.Noop = d.IsEmpty() && !p.Diff.Credentials.Changed
	return p
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Decide checks that who may decide r (approve: true; reject: false) and
// returns r decided.
//
// Errors: ECONFLICT (already decided), EFORBIDDEN (approving one's own).
func (r PromotionRequest) Decide(who Identity, approve bool, reason string, now time.Time) (PromotionRequest, error) {
	if r.State != RequestPending {
		return r, Errorf(ECONFLICT, "promotion request %s is already %s", r.ID, r.State)
	}
	if approve && SamePerson(r.RequestedBy.Identity, who) {
		return r, Errorf(EFORBIDDEN, "you requested this promotion: another person approves it")
	}
	r.State = RequestRejected
	if approve {
		r.State = RequestApproved
	}
	r.DecidedBy = &Decision{Identity: who, Time: now.UTC(), Reason: reason}
	return r, nil
}

// PromotionDecision is the payload of promotion.approved and
// promotion.rejected.
type PromotionDecision struct {
	ID              string   `json:"id"`
	From            string   `json:"from"`
	To              string   `json:"to"`
	AppliedRevision Revision `json:"appliedRevision,omitempty"`
	Reason          string   `json:"reason,omitempty"`
}

// NewRecordEvent builds one of promotion's record events (requested,
// approved, rejected, policy, overlay) of ns with payload v.
//
// Errors: EINVALID.
func NewRecordEvent(ns string, t EventType, v any, o Origin) (Event, error) {
	agg := AggregatePromotion
	switch t {
	case PolicySet:
		agg = AggregatePolicy
	case OverlaySet:
		agg = AggregateOverlay
	case PromotionRequested, PromotionApproved, PromotionRejected:
	default:
		return Event{}, Errorf(EINVALID, "%s is not a promotion event", t)
	}
	e, err := newEvent(ns, t, agg, v, "", o)
	if err != nil {
		return Event{}, fmt.Errorf("domain: encode %s: %w", t, err)
	}
	e.SHA256 = SHA256Hex(e.Payload)
	return e, e.Validate()
}

// CredentialsCopy decides whether a promotion may copy the source's
// encrypted credentials: both namespaces must report the same credential
// secret fingerprint.
//
// Errors: EINVALID saying what is missing.
func CredentialsCopy(from, to string, source, target Policy) error {
	switch {
	case source.CredentialFingerprint == "" || target.CredentialFingerprint == "":
		return Errorf(EINVALID, "credential secrets unknown: both %s and %s must report a credential fingerprint to copy credentials (policy credentialFingerprint, or the module's Flowhist-Credential-Fingerprint header)", from, to)
	case source.CredentialFingerprint != target.CredentialFingerprint:
		return Errorf(EINVALID, "credential secrets differ between %s and %s: credentials encrypted for one cannot be read by the other; promote without --with-credentials and enter them on %s", from, to, to)
	}
	return nil
}

// MissingCredentials lists the nodes of merged whose credentials source
// has and target lacks. known is false when either blob is encrypted
// (Node-RED's one "$" key): flowhist cannot tell then.
func MissingCredentials(merged *Flows, source, target []byte) (missing []NodeRef, known bool) {
	sk, sok := credentialNodes(source)
	tk, tok := credentialNodes(target)
	if !sok || !tok {
		return []NodeRef{}, false
	}
	missing = []NodeRef{}
	for _, n := range merged.Nodes() {
		if sk[n.ID] && !tk[n.ID] {
			missing = append(missing, NodeRef{ID: n.ID, Type: n.Type, Name: n.Name})
		}
	}
	return missing, true
}

// credentialNodes is the set of node ids of a credentials blob stored in
// clear; ok is false for an encrypted one.
func credentialNodes(blob []byte) (map[string]bool, bool) {
	out := map[string]bool{}
	if len(blob) == 0 {
		return out, true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(blob, &m); err != nil {
		return nil, false
	}
	if _, enc := m["$"]; enc {
		return nil, false
	}
	for k := range m {
		out[k] = true
	}
	return out, true
}
