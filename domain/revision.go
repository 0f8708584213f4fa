package domain

import (
	"fmt"
	"strconv"
)

// Revision is a position in a namespace's log (1, 2, 3 …, gapless) or an
// aggregate's own revision counter. Zero means "nothing yet".
type Revision uint64

// String formats r in decimal.
func (r Revision) String() string { return strconv.FormatUint(uint64(r), 10) }

// ParseRevision parses a decimal revision. It returns EINVALID for anything
// else.
func ParseRevision(s string) (Revision, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, Errorf(EINVALID, "revision %q is not a non-negative whole number", s)
	}
	return Revision(n), nil
}

// Expected is the optimistic-concurrency expectation of an append about the
// aggregate's current revision. The zero value is ExpectAny.
type Expected struct {
	exact bool
	rev   Revision
}

// ExpectAny accepts the aggregate at any revision.
var ExpectAny = Expected{}

// ExpectNone accepts the aggregate only if it has no revision yet.
var ExpectNone = Expected{exact: true}

// ExpectRevision accepts the aggregate only at exactly rev (0 is ExpectNone).
func ExpectRevision(rev Revision) Expected { return Expected{exact: true, rev: rev} }

// IsAny reports whether e accepts any revision.
func (e Expected) IsAny() bool { return !e.exact }

// Revision returns the exact revision expected; it is meaningful only when
// IsAny is false.
func (e Expected) Revision() Revision { return e.rev }

// Allows reports whether an aggregate at current satisfies e.
func (e Expected) Allows(current Revision) bool { return !e.exact || e.rev == current }

// String describes e for messages.
func (e Expected) String() string {
	switch {
	case !e.exact:
		return "any revision"
	case e.rev == 0:
		return "no revision yet"
	default:
		return fmt.Sprintf("revision %d", e.rev)
	}
}
