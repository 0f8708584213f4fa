package streams

import (
	"context"
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// durability is what an append waits for now: the configured Durability,
// with Replicas as last set by SetReplicas under EveryReplica.
func (s *Store) durability() Durability {
	d := s.cfg.Durability
	if d.EveryReplica {
		d.Replicas = int(s.replicas.Load())
	}
	return d
}

// SetReplicas sets how many replicas an append waits for when the
// configuration says EveryReplica: the count of replicas the Sentinels
// could promote (PromotableReplicas), refreshed by whoever watches them.
// Without EveryReplica it does nothing.
func (s *Store) SetReplicas(n int) {
	s.replicas.Store(int64(max(n, 0)))
}

// Warning says, for a deployment whose Sentinels could promote replicas
// replicas, how d can lose an acknowledged write in a failover, or "" when
// it cannot: Sentinel may promote any of them, so every one must have
// confirmed the write, and a shortfall must not be answered as a success.
func (d Durability) Warning(replicas int) string {
	if d.EveryReplica || replicas == 0 {
		return ""
	}
	var why string
	switch {
	case d.Replicas < replicas:
		why = fmt.Sprintf("streams.durability.replicas is %d but the Sentinels report %d replica(s)", d.Replicas, replicas)
	case !d.Required:
		why = "streams.durability.required is false"
	default:
		return ""
	}
	return why + ": an acknowledged deploy can be lost when the primary fails over; unset streams.durability.replicas and .required to wait for every replica"
}

// PromotableReplicas asks c's Sentinels how many replicas of the primary
// they know and could promote: those not down and not disconnected. It asks
// each Sentinel in turn until one answers.
//
// Errors: EINVALID (c names no Sentinels), EUNAVAILABLE (none answered;
// the last reason).
func PromotableReplicas(ctx context.Context, c DialConfig) (int, error) {
	s := c.Sentinel
	if s.MasterName == "" || len(s.Addrs) == 0 {
		return 0, domain.Errorf(domain.EINVALID, "streams: no Sentinels configured (valkey.sentinel)")
	}
	opt := rueidis.ClientOption{
		Username: s.Username, Password: s.Password,
		DisableCache: true, ForceSingleClient: true, DisableRetry: true,
	}
	opt.Dialer.Timeout = c.DialTimeout
	if s.TLS {
		tc, err := c.tlsConfig()
		if err != nil {
			return 0, err
		}
		opt.TLSConfig = tc
	}
	var last error
	for _, addr := range SplitAddrs(s.Addrs) {
		opt.InitAddress = []string{addr}
		n, err := promotable(ctx, opt, s.MasterName)
		if err == nil {
			return n, nil
		}
		last = err
	}
	return 0, fmt.Errorf("streams: ask the Sentinels for %q's replicas: %w", s.MasterName, classify(last))
}

func promotable(ctx context.Context, opt rueidis.ClientOption, master string) (int, error) {
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	replies, err := client.Do(ctx, client.B().SentinelReplicas().Master(master).Build()).ToArray()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range replies {
		fields, err := r.AsStrMap()
		if err != nil {
			return 0, err
		}
		if promotableFlags(fields["flags"]) {
			n++
		}
	}
	return n, nil
}

// promotableFlags reports whether a replica with these Sentinel flags
// ("slave", "slave,s_down,disconnected" …) could be promoted.
func promotableFlags(flags string) bool {
	for _, f := range strings.Split(flags, ",") {
		switch f {
		case "s_down", "o_down", "disconnected":
			return false
		}
	}
	return true
}
