package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Staged rollout: a namespace's policy (rings in order, each with a bake
// time and a health gate, and windows), and the progress of a rollout
// through the rings. docs/rollout.md is the contract with the clients.

// Rollout event types: every step of a rollout is an event of aggregate
// AggregateRollout, so the history shows it.
const (
	RolloutPolicySet EventType = "rollout.policy"
	RolloutStarted   EventType = "rollout.started"
	RolloutPromoted  EventType = "rollout.promoted"
	RolloutPaused    EventType = "rollout.paused"
	RolloutResumed   EventType = "rollout.resumed"
	RolloutFailed    EventType = "rollout.failed"
	RolloutAborted   EventType = "rollout.aborted"
	RolloutCompleted EventType = "rollout.completed"
)

// AggregateRollout is the aggregate of rollout events.
const AggregateRollout = "rollout"

// RolloutPayloadSchema is the schema of every rollout event's payload.
const RolloutPayloadSchema = 1

// ActorRollout is the user the rollout driver acts as.
const ActorRollout = "rollout"

// DefaultRing is the ring of a worker that names none.
const DefaultRing = "default"

// IsRolloutEvent reports whether t is a rollout event type.
func IsRolloutEvent(t EventType) bool {
	switch t {
	case RolloutPolicySet, RolloutStarted, RolloutPromoted, RolloutPaused, RolloutResumed, RolloutFailed, RolloutAborted, RolloutCompleted:
		return true
	}
	return false
}

// Position names an event: its namespace revision and its id.
type Position struct {
	Revision Revision `json:"revision"`
	ID       string   `json:"id"`
}

// RolloutPayload is the payload of every rollout event; each type fills
// its own fields (docs/rollout.md).
type RolloutPayload struct {
	Policy *Policy `json:"policy,omitempty"`
	// Revision and ID name the position rolled out.
	Revision Revision  `json:"revision,omitempty"`
	ID       string    `json:"id,omitempty"`
	Base     *Position `json:"base,omitempty"`
	Ring     string    `json:"ring,omitempty"`
	Index    int       `json:"index,omitempty"`
	// By is "gate" or "operator" for a promotion.
	By     string `json:"by,omitempty"`
	Worker string `json:"worker,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// NewRolloutEvent builds a rollout event of type t.
func NewRolloutEvent(ns string, t EventType, p RolloutPayload, o Origin) (Event, error) {
	if !IsRolloutEvent(t) {
		return Event{}, Errorf(EINVALID, "%q is not a rollout event", t)
	}
	e, err := newEvent(ns, t, AggregateRollout, p, "", o)
	// The history shows why, as it does a rollback's.
	e.Reason = p.Reason
	return e, err
}

// Duration is a time.Duration written as a Go duration string ("10s").
type Duration time.Duration

// MarshalJSON writes d as "10s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "10s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"10s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"10s\"", Clip(s))
	}
	*d = Duration(v)
	return nil
}

// Policy is a namespace's rollout policy.
type Policy struct {
	Rings   []Ring   `json:"rings"`
	Windows []string `json:"windows,omitempty"`
}

// Ring is one ring of a policy.
type Ring struct {
	Name string   `json:"name"`
	Bake Duration `json:"bake"`
	Gate Gate     `json:"gate"`
}

// Gate is what a ring's workers must show to pass.
type Gate struct {
	MaxErrors   int      `json:"maxErrors"`
	MaxRestarts int      `json:"maxRestarts"`
	Deadline    Duration `json:"deadline"`
	Report      Duration `json:"report"`
	Probes      []Probe  `json:"probes"`
}

// Probe is an HTTP probe a worker runs against its own HTTP server.
type Probe struct {
	Path   string   `json:"path"`
	Status int      `json:"status"`
	Every  Duration `json:"every"`
}

// Bounds of a policy.
const (
	maxRings      = 16
	maxWindows    = 16
	maxProbes     = 10
	maxProbePath  = 200
	maxBake       = 7 * 24 * time.Hour
	defaultGateIn = 60 * time.Second
	defaultReport = 5 * time.Second
)

var ringName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateRing checks a ring name.
//
// Errors: EINVALID.
func ValidateRing(name string) error {
	if !ringName.MatchString(name) {
		return Errorf(EINVALID, "ring %q is not a ring name: letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit", Clip(name))
	}
	return nil
}

// WithDefaults returns p with every unset field at its default.
func (p Policy) WithDefaults() Policy {
	rings := make([]Ring, len(p.Rings))
	for i, r := range p.Rings {
		if r.Gate.Deadline == 0 {
			r.Gate.Deadline = Duration(defaultGateIn)
		}
		if r.Gate.Report == 0 {
			r.Gate.Report = Duration(defaultReport)
		}
		probes := make([]Probe, len(r.Gate.Probes))
		for j, pr := range r.Gate.Probes {
			if pr.Every == 0 {
				pr.Every = Duration(defaultReport)
			}
			probes[j] = pr
		}
		r.Gate.Probes = probes
		rings[i] = r
	}
	p.Rings = rings
	if p.Windows == nil {
		p.Windows = []string{}
	}
	return p
}

// Validate checks a policy (with its defaults filled in).
//
// Errors: EINVALID naming the field.
func (p Policy) Validate() error {
	if len(p.Rings) == 0 || len(p.Rings) > maxRings {
		return Errorf(EINVALID, "policy has %d rings: give 1 to %d", len(p.Rings), maxRings)
	}
	seen := map[string]bool{}
	for i, r := range p.Rings {
		where := fmt.Sprintf("rings[%d]", i)
		if err := ValidateRing(r.Name); err != nil {
			return Errorf(EINVALID, "%s: %s", where, ErrorMessage(err))
		}
		if seen[r.Name] {
			return Errorf(EINVALID, "%s: ring %q is listed twice", where, r.Name)
		}
		seen[r.Name] = true
		if err := within(where+".bake", r.Bake, 0, maxBake); err != nil {
			return err
		}
		g := r.Gate
		if g.MaxErrors < 0 || g.MaxRestarts < 0 {
			return Errorf(EINVALID, "%s.gate: maxErrors and maxRestarts must be 0 or more", where)
		}
		if err := within(where+".gate.deadline", g.Deadline, time.Second, time.Hour); err != nil {
			return err
		}
		if err := within(where+".gate.report", g.Report, time.Second, 5*time.Minute); err != nil {
			return err
		}
		if len(g.Probes) > maxProbes {
			return Errorf(EINVALID, "%s.gate has %d probes: at most %d", where, len(g.Probes), maxProbes)
		}
		for j, pr := range g.Probes {
			pw := fmt.Sprintf("%s.gate.probes[%d]", where, j)
			if !strings.HasPrefix(pr.Path, "/") || strings.HasPrefix(pr.Path, "//") || len(pr.Path) > maxProbePath || strings.ContainsAny(pr.Path, " \t\r\n\\") {
				return Errorf(EINVALID, "%s.path %q must be a path on the worker's own server such as /health (at most %d characters)", pw, Clip(pr.Path), maxProbePath)
			}
			if pr.Status < 100 || pr.Status > 599 {
				return Errorf(EINVALID, "%s.status %d is not an HTTP status", pw, pr.Status)
			}
			if err := within(pw+".every", pr.Every, 50*time.Millisecond, time.Hour); err != nil {
				return err
			}
		}
	}
	if len(p.Windows) > maxWindows {
		return Errorf(EINVALID, "policy has %d windows: at most %d", len(p.Windows), maxWindows)
	}
	for i, w := range p.Windows {
		if _, err := ParseWindow(w); err != nil {
			return Errorf(EINVALID, "windows[%d]: %s", i, ErrorMessage(err))
		}
	}
	return nil
}

func within(field string, d Duration, lo, hi time.Duration) error {
	if time.Duration(d) < lo || time.Duration(d) > hi {
		return Errorf(EINVALID, "%s %s is out of range: %s to %s", field, time.Duration(d), lo, hi)
	}
	return nil
}

// RingIndex is the index of the ring a worker of ring name follows: its
// own, or the last ring when the policy does not list it.
func (p Policy) RingIndex(name string) int {
	for i, r := range p.Rings {
		if r.Name == name {
			return i
		}
	}
	return len(p.Rings) - 1
}

// InWindow reports whether t is inside one of the policy's windows (always,
// when it lists none).
func (p Policy) InWindow(t time.Time) bool {
	if len(p.Windows) == 0 {
		return true
	}
	for _, s := range p.Windows {
		if w, err := ParseWindow(s); err == nil && w.Contains(t) {
			return true
		}
	}
	return false
}
