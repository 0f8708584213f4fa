package e2e_test

import (
	"context"
	"fmt"
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
func waitReplicaLinked(t testing.TB, c rueidis.Client) {
	t.Helper()
	waitFor(t, 30*time.Second, "the replica linked to its primary", func() (bool, string) {
		info, err := c.Do(context.Background(), c.B().Info().Section("replication").Build()).ToString()
		return err == nil && strings.Contains(info, "master_link_status:up"), info
	})
}

// TestDurabilityFailoverLosesNoAcknowledgedWrite is issue 8's lost deploys: flowhist behind a proxy
// that follows the primary, with streams.durability replicas: 1 and
// required: true, while 8 clients write. Mid-way the replica loses its
// link to the primary (a partition: writes land on the primary only, and
// no replica confirms them), then the primary is killed with -9, the
// replica promoted (a forced failover), the proxy switched to it, and the
// old primary restarted as the new primary's replica. A write the replica
// did not confirm must not have been answered 200: every write answered
// 200 is there after the failover, at the revision it was answered, no
// revision is reused, and `flowhist verify` passes.
func TestDurabilityFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	f := newFailoverEnv(t)
	// A shortfall is answered after the WAIT, and appends on one
	// namespace queue behind each other's: within the request timeout
	// (5 s), not the outage's 2 s.
	refusal := func(a answer) string { return a.unavailableWithin(6 * time.Second) }
	writesUnderFault(t, f.e, "the replica cut off, then a forced failover", 1, refusal, f.partition, f.failover)
}

// TestDurabilityFailoverForgetsUnconfirmedDeploys is the same one step at a time:
// two deploys the cut-off replica could not confirm answer 503 (they
// landed on the primary only), then the failover loses them. flowhist must
// not go on answering their flows, and the next deploy is what GET flows
// answers, at the revision it was given.
func TestDurabilityFailoverForgetsUnconfirmedDeploys(t *testing.T) {
	f := newFailoverEnv(t)
	ns := "unconfirmed-" + randomHex(4)
	put := func(label string) answer {
		return f.e.call("PUT", ns, "/flows", []byte(`[{"id":"t1","type":"tab","label":"`+label+`"}]`), nil)
	}
	for i := range 3 {
		if a := put(fmt.Sprint("confirmed ", i)); a.status != 200 {
			t.Fatalf("a deploy with the replica linked: got %s, want 200", a)
		}
	}
	f.partition()
	for i := range 2 {
		if a := put(fmt.Sprint("unconfirmed ", i)); a.status != 503 {
			t.Fatalf("a deploy the replica cannot confirm: got %s, want 503", a)
		}
	}
	f.failover()
	t.Run("GET flows does not answer flows the failover lost", func(t *testing.T) {
		a := f.e.call("GET", ns, "/flows", nil, nil)
		if strings.Contains(string(a.body), "unconfirmed") {
			t.Errorf("GET flows after the failover: got %s (Flowhist-Revision %s), want the confirmed flows or an error", a, a.header.Get("Flowhist-Revision"))
		}
	})
	t.Run("the next deploy is what GET flows answers", func(t *testing.T) {
		body := []byte(`[{"id":"t1","type":"tab","label":"after the failover ` + randomHex(4) + `"}]`)
		rev := deployUntilAccepted(t, f.e, ns, 10*time.Second, body)
		if rev != 4 {
			t.Errorf("the deploy after the failover got revision %d, want 4 (3 confirmed before it)", rev)
		}
		waitFor(t, 5*time.Second, "GET flows answering the deploy made after the failover", func() (bool, string) {
			a := f.e.call("GET", ns, "/flows", nil, nil)
			return a.status == 200 && string(a.body) == string(body) && a.header.Get("Flowhist-Revision") == fmt.Sprint(rev),
				fmt.Sprintf("%s, Flowhist-Revision %s; want the deploy's body at revision %d", a, a.header.Get("Flowhist-Revision"), rev)
		})
		f.e.verify(t, ns)
	})
}

// failoverEnv is a primary and its replica, the replica linked through a
// proxy the test can cut, and flowhist behind a proxy that follows the
// primary, with streams.durability replicas: 1, required: true.
type failoverEnv struct {
	t                *testing.T
	e                *faultEnv
	primary, replica *valkeytest.Server
	link, front      *tcpProxy
	rc               rueidis.Client
}

func newFailoverEnv(t *testing.T) *failoverEnv {
	t.Helper()
	args := append([]string{"--repl-diskless-sync-delay", "0"}, durableValkey...)
	f := &failoverEnv{t: t, primary: valkeytest.Start(t, args...), replica: valkeytest.Start(t, args...)}
	f.link = startProxy(t, f.primary.Addr)
	f.rc = streamstest.Client(t, f.replica.Addr)
	replicate(t, f.rc, f.link.Addr())
	f.front = startProxy(t, f.primary.Addr)
	f.e = newFaultEnvAt(t, f.primary, f.front.Addr(), "streams:\n  durability:\n    replicas: 1\n    timeout: 1s\n    required: true\n")
	f.e.valkeyAddr = f.replica.Addr // where verify reads once the replica is the primary
	return f
}

// partition cuts the replica off its primary: nothing listens there.
func (f *failoverEnv) partition() { f.link.switchTo("127.0.0.1:1") }

// failover kills the primary with -9, promotes the replica and switches
// flowhist's proxy to it; the old primary comes back as the new one's
// replica, so that appends are confirmed again.
func (f *failoverEnv) failover() {
	t := f.t
	t.Helper()
	f.primary.Kill()
	if err := f.rc.Do(context.Background(), f.rc.B().Replicaof().No().One().Build()).Error(); err != nil {
		t.Errorf("REPLICAOF NO ONE: %v", err)
	}
	f.front.switchTo(f.replica.Addr)
	f.primary.Restart(t)
	replicate(t, streamstest.Client(t, f.primary.Addr), f.replica.Addr)
}

// replicate makes the Valkey c talks to a replica of the one at addr and
// waits until its link is up.
func replicate(t testing.TB, c rueidis.Client, addr string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	if err := c.Do(context.Background(), c.B().Replicaof().Host(host).Port(mustAtoi(t, port)).Build()).Error(); err != nil {
		t.Fatalf("REPLICAOF %s: %v", addr, err)
	}
	waitReplicaLinked(t, c)
}

func mustAtoi(t testing.TB, s string) int64 {
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
