package streams

import (
	"fmt"
	"strings"
	"time"
)

// Config tunes a Store. The zero value is useful: setDefaults fills every
// unset field.
type Config struct {
	// IdempotencyTTL is how long an idempotency key returns its first
	// result. Default 24h.
	IdempotencyTTL time.Duration
	// SnapshotEvery writes a flows snapshot after this many flows
	// revisions since the last one. Default 100.
	SnapshotEvery int
	// SnapshotShare writes a snapshot sooner, when the patches since the
	// last one add up to more than this share of the document's size.
	// Default 0.5.
	SnapshotShare float64
	// CompressAbove gzips an event payload larger than this many bytes.
	// Default 16 KiB.
	CompressAbove int
	// HeadCache is how many namespaces' current flows documents are kept
	// in memory to diff the next deploy against. Default 256.
	HeadCache int
	// Durability asks Valkey for more than an in-memory write before an
	// append returns.
	Durability Durability
}

// Durability is what an append waits for after it was applied: WAIT for
// Replicas replicas and/or WAITAOF for the local AOF fsync (and, with
// Replicas, the replicas' too). The zero value waits for nothing.
type Durability struct {
	Replicas int
	AOF      bool
	// Timeout bounds the wait. Default 1s when anything is asked for.
	Timeout time.Duration
	// Required makes a shortfall an error (EUNAVAILABLE) instead of a
	// result that reports it: the event is appended either way, so a
	// caller that retries must use the same idempotency key.
	Required bool
	// EveryReplica waits for as many replicas as Store.SetReplicas last
	// said (the replicas the Sentinels could promote), instead of Replicas.
	// serve sets it, with Required, under Sentinel when neither replicas
	// nor required is configured: the default that loses nothing
	// acknowledged in a failover.
	EveryReplica bool
}

// String says what d asks for, as "1 replica and the AOF fsync".
func (d Durability) String() string {
	var parts []string
	if d.EveryReplica {
		parts = append(parts, fmt.Sprintf("every replica (%d now)", d.Replicas))
	}
	switch {
	case d.EveryReplica:
	case d.Replicas == 1:
		parts = append(parts, "1 replica")
	case d.Replicas > 1:
		parts = append(parts, fmt.Sprintf("%d replicas", d.Replicas))
	}
	if d.AOF {
		parts = append(parts, "the AOF fsync")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

// WithDefaults returns c with every unset field at its default: the one
// place the defaults are written (the command line's configuration takes
// them from here).
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 100
	}
	if c.SnapshotShare == 0 {
		c.SnapshotShare = 0.5
	}
	if c.CompressAbove == 0 {
		c.CompressAbove = 16 << 10
	}
	if c.HeadCache == 0 {
		c.HeadCache = 256
	}
	if c.Durability.Timeout == 0 {
		c.Durability.Timeout = time.Second
	}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.IdempotencyTTL < time.Second:
		return fmt.Errorf("streams: idempotency TTL %s is under 1s", c.IdempotencyTTL)
	case c.SnapshotEvery < 1:
		return fmt.Errorf("streams: snapshot interval %d is under 1", c.SnapshotEvery)
	case c.SnapshotShare <= 0:
		return fmt.Errorf("streams: snapshot share %g must be positive", c.SnapshotShare)
	case c.CompressAbove < 0:
		return fmt.Errorf("streams: compress threshold %d is negative", c.CompressAbove)
	case c.Durability.Replicas < 0:
		return fmt.Errorf("streams: durability replicas %d is negative", c.Durability.Replicas)
	}
	return nil
}
