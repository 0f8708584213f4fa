package e2e_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// tcpProxy forwards connections to a target that can change, as a proxy
// following the Sentinel-elected primary does: switching closes every
// connection to the old target.
type tcpProxy struct {
	l  net.Listener
	mu sync.Mutex
	// target is where new connections go.
	target string
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) Addr() string { return p.l.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	u, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.conns == nil { // closed meanwhile
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// switchTo sends new connections to target and closes the current ones.
func (p *tcpProxy) switchTo(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	for c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// waitReplicaLinked waits until the Valkey c talks to is a replica whose
// link to its primary is up.
func waitReplicaLinked(t *testing.T, c rueidis.Client) {
	t.Helper()
	waitFor(t, 30*time.Second, "the replica linked to its primary", func() (bool, string) {
		info, err := c.Do(context.Background(), c.B().Info().Section("replication").Build()).ToString()
		return err == nil && strings.Contains(info, "master_link_status:up"), info
	})
}

// TestDurabilityFailover is issue 8's lost deploys: flowhist behind a proxy
// that follows the primary, with streams.durability replicas: 1 and
// required: true, while 8 clients write. Mid-way the replica loses its
// link to the primary (a partition: writes land on the primary only, and
// no replica confirms them), then the primary is killed with -9, the
// replica promoted (a forced failover), the proxy switched to it, and the
// old primary restarted as the new primary's replica. A write the replica
// did not confirm must not have been answered 200: every write answered
// 200 is there after the failover, at the revision it was answered, no
// revision is reused, and `flowhist verify` passes.
func TestDurabilityFailover(t *testing.T) {
	args := append([]string{"--repl-diskless-sync-delay", "0"}, durableValkey...)
	primary := valkeytest.Start(t, args...)
	replica := valkeytest.Start(t, args...)
	ctx := context.Background()
	replicate := func(c rueidis.Client, of string) {
		t.Helper()
		host, port, _ := strings.Cut(of, ":")
		if err := c.Do(ctx, c.B().Replicaof().Host(host).Port(mustAtoi(t, port)).Build()).Error(); err != nil {
			t.Fatalf("REPLICAOF %s: %v", of, err)
		}
		waitReplicaLinked(t, c)
	}
	// The replica reaches the primary through a proxy the test can cut.
	link := startProxy(t, primary.Addr)
	rc := streamstest.Client(t, replica.Addr)
	replicate(rc, link.Addr())

	front := startProxy(t, primary.Addr)
	e := newFaultEnvAt(t, primary, front.Addr(), "streams:\n  durability:\n    replicas: 1\n    timeout: 300ms\n    required: true\n")
	e.valkeyAddr = replica.Addr // where verify reads once the replica is the primary

	partition := func() { link.switchTo("127.0.0.1:1") } // nothing listens there
	failover := func() {
		primary.Kill()
		if err := rc.Do(ctx, rc.B().Replicaof().No().One().Build()).Error(); err != nil {
			t.Errorf("REPLICAOF NO ONE: %v", err)
		}
		front.switchTo(replica.Addr)
		// The old primary comes back as the new one's replica, so that
		// appends are confirmed again.
		primary.Restart(t)
		replicate(streamstest.Client(t, primary.Addr), replica.Addr)
	}
	// A shortfall is answered after the WAIT, and appends on one
	// namespace queue behind each other's: within the request timeout
	// (5 s), not the outage's 2 s.
	refusal := func(a answer) string { return a.unavailableWithin(6 * time.Second) }
	writesUnderFault(t, e, "the replica cut off, then a forced failover", 1, refusal, partition, failover)
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("%q is not a port", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
