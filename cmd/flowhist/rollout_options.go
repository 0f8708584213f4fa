package main

import (
	"fmt"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/viper"
)

// rolloutDurations are the rollout driver's options (rows of options
// beside rollout.member_idle) and the values each accepts.
var rolloutDurations = []struct {
	key      string
	min, max time.Duration
	why      string
}{
	{"rollout.member_idle", time.Minute, 30 * 24 * time.Hour, "the feed notes a worker at most every 30s"},
	{"rollout.tick", 10 * time.Millisecond, time.Minute, ""},
	{"rollout.lease", 500 * time.Millisecond, 10 * time.Minute, ""},
}

// checkRolloutOptions refuses a rollout option the driver cannot work
// with, in one line naming it: not a duration (a bare number has no
// unit, which the configuration library would read as nanoseconds), out
// of its range, or a lease shorter than three ticks (the driver renews it
// every tick: a lease that expires between two renewals hands the
// rollout from replica to replica).
//
// Errors: EINVALID.
func checkRolloutOptions(v *viper.Viper) error {
	got := map[string]time.Duration{}
	for _, o := range rolloutDurations {
		var d time.Duration
		switch raw := v.Get(o.key).(type) {
		case time.Duration:
			d = raw
		case string:
			var err error
			if d, err = time.ParseDuration(raw); err != nil {
				return domain.Errorf(domain.EINVALID, "%s: %q is not a duration such as %s", o.key, domain.Clip(raw), o.min)
			}
		default:
			return domain.Errorf(domain.EINVALID, "%s: %v is not a duration: give it a unit, such as %s", o.key, raw, o.min)
		}
		if d < o.min || d > o.max {
			msg := fmt.Sprintf("%s: %s is out of range: %s to %s", o.key, d, o.min, o.max)
			if o.why != "" {
				msg += " (" + o.why + ")"
			}
			return domain.Errorf(domain.EINVALID, "%s", msg)
		}
		got[o.key] = d
	}
	if tick, lease := got["rollout.tick"], got["rollout.lease"]; lease < 3*tick {
		return domain.Errorf(domain.EINVALID, "rollout.lease: %s is under three rollout.tick (%s): the driver renews its lease every tick", lease, tick)
	}
	return nil
}
