package projector

import (
	"fmt"
	"os"
	"time"
)

// Config tunes a Projector. The zero value is useful.
type Config struct {
	// Consumer names this projector in the consumer group. Default
	// "<hostname>-<pid>".
	Consumer string
	// Interval is how often Run looks for new namespaces and entries that
	// the immediate projection after an append did not already cover.
	// Default 1s.
	Interval time.Duration
	// ReclaimIdle is how long an entry may stay delivered to another
	// projector without acknowledgement before Run takes it over.
	// Default 30s.
	ReclaimIdle time.Duration
	// Timeout bounds one pass of Run; a pass that takes longer (a Valkey
	// that hangs) is abandoned and tried again. Default 30s.
	Timeout time.Duration
	// Batch is how many entries are read at a time. Default 256.
	Batch int
	// Compat enables the old module's keys per namespace; the key "*"
	// applies to every namespace without its own entry.
	Compat map[string]Compat
}

// Compat configures the old module's keys for one namespace.
type Compat struct {
	// Prefix is the old module's keyPrefix. Default "nodered:".
	Prefix string
	// Compress writes values longer than 1024 characters as
	// "gzip:"+base64, like the old module's enableCompression.
	Compress bool
	// UpdateChannel is where the flows-updated message is published.
	// Default Prefix+"flows:updated".
	UpdateChannel string
	// PackageChannel is where package changes are published. Default
	// "nodered:packages:updated".
	PackageChannel string
}

// WithDefaults returns c with every unset field at its default: the one
// place the defaults are written (the command line's configuration takes
// them from here).
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.ReclaimIdle == 0 {
		c.ReclaimIdle = 30 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	// Copy: the caller's map is not ours to change.
	compat := make(map[string]Compat, len(c.Compat))
	for ns, cc := range c.Compat {
		if cc.Prefix == "" {
			cc.Prefix = "nodered:"
		}
		if cc.UpdateChannel == "" {
			cc.UpdateChannel = cc.Prefix + "flows:updated"
		}
		if cc.PackageChannel == "" {
			cc.PackageChannel = "nodered:packages:updated"
		}
		compat[ns] = cc
	}
	c.Compat = compat
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("projector: interval %s is negative", c.Interval)
	case c.ReclaimIdle < 0:
		return fmt.Errorf("projector: reclaim idle %s is negative", c.ReclaimIdle)
	case c.Timeout < 0:
		return fmt.Errorf("projector: timeout %s is negative", c.Timeout)
	case c.Batch < 1:
		return fmt.Errorf("projector: batch %d is under 1", c.Batch)
	}
	return nil
}

// compatFor returns ns's compat settings and whether compat is on for it.
func (c Config) compatFor(ns string) (Compat, bool) {
	if cc, ok := c.Compat[ns]; ok {
		return cc, true
	}
	cc, ok := c.Compat["*"]
	return cc, ok
}
