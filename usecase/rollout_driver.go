package usecase

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
)

// DriverConfig tunes a RolloutDriver. The zero value is useful.
type DriverConfig struct {
	// Tick is how often the driver looks at each namespace's rollout.
	// Default 250ms.
	Tick time.Duration
	// LeaseTTL is how long a driver's lease on a namespace lasts without
	// renewal: the time another replica waits to take over from one that
	// died. Default 3s.
	LeaseTTL time.Duration
	// MemberIdle is how long a worker may be away from the feed and still
	// count as a member of its ring. Default 2m.
	MemberIdle time.Duration
}

func (c *DriverConfig) setDefaults() {
	c.Tick, c.LeaseTTL = DriverDefaults(c.Tick, c.LeaseTTL)
	if c.MemberIdle == 0 {
		c.MemberIdle = 2 * time.Minute
	}
}

// DriverDefaults returns tick and lease, each at its default when zero:
// 250ms and 3s.
func DriverDefaults(tick, lease time.Duration) (time.Duration, time.Duration) {
	if tick == 0 {
		tick = 250 * time.Millisecond
	}
	if lease == 0 {
		lease = 3 * time.Second
	}
	return tick, lease
}

// RolloutDriver drives the rollouts of every namespace with a policy: it
// starts one when a new flows revision appears, judges the current ring's
// gate, promotes, and rolls back. Among replicas one driver holds each
// namespace's lease (in Valkey) and drives it; the others take over when
// it stops renewing. Its state is the stored rollout, so a restart goes on
// where it was. Run it with Run; Close stops it.
type RolloutDriver struct {
	app   *App
	cfg   DriverConfig
	owner string
	kick  chan string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewRolloutDriver returns a driver over app's store; app kicks it after
// every append that may start or change a rollout.
func (a *App) NewRolloutDriver(cfg DriverConfig) *RolloutDriver {
	cfg.setDefaults()
	var b [8]byte
	rand.Read(b[:])
	d := &RolloutDriver{app: a, cfg: cfg, owner: hex.EncodeToString(b[:]), kick: make(chan string, 64)}
	a.driver.Store(d)
	return d
}

// Owner is the name the driver holds leases under.
func (d *RolloutDriver) Owner() string { return d.owner }

// Start runs the driver in the background until Close.
func (d *RolloutDriver) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.run(ctx)
	}()
}

// Close stops the driver and gives up its leases.
func (d *RolloutDriver) Close() {
	if d.cancel != nil {
		d.cancel()
		d.wg.Wait()
	}
	d.app.driver.CompareAndSwap(d, nil)
}

// kickDriver asks this process's driver to look at ns now.
func (a *App) kickDriver(ns string) {
	if d := a.driver.Load(); d != nil {
		select {
		case d.kick <- ns:
		default:
		}
	}
}

// driverAppended wakes the driver after a flows append: it may start a
// rollout.
func (a *App) driverAppended(ns, aggregate string) {
	if aggregate == domain.AggregateFlows {
		a.kickDriver(ns)
	}
}

func (d *RolloutDriver) run(ctx context.Context) {
	held := map[string]bool{}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), d.cfg.LeaseTTL)
		defer cancel()
		for ns := range held {
			d.app.store.ReleaseRolloutLease(rctx, ns, d.owner)
		}
	}()
	tick := time.NewTicker(d.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ns := <-d.kick:
			d.visit(ctx, ns, held)
		case <-tick.C:
			sctx, cancel := context.WithTimeout(ctx, d.cfg.LeaseTTL)
			names, err := d.app.store.RolloutNamespaces(sctx)
			cancel()
			if err != nil {
				continue
			}
			for _, ns := range names {
				d.visit(ctx, ns, held)
			}
		}
	}
}

// visit takes or renews ns's lease and, holding it, drives ns one step.
func (d *RolloutDriver) visit(ctx context.Context, ns string, held map[string]bool) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.LeaseTTL)
	defer cancel()
	ok, err := d.app.store.HoldRolloutLease(ctx, ns, d.owner, d.cfg.LeaseTTL)
	if err != nil || !ok {
		delete(held, ns)
		return
	}
	held[ns] = true
	if err := d.app.DriveRollout(ctx, ns, d.cfg.MemberIdle); err != nil && ctx.Err() == nil {
		d.app.log.Warn("rollout step failed; the next tick tries again", zap.String("ns", ns), zap.Error(err))
	}
}
