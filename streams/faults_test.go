package streams_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// fast bounds how long a store may take to say Valkey is unavailable: the
// HTTP API promises 503 within 2 s, whatever the request's deadline.
const fast = time.Second

// TestErrorsFromValkey breaks a real valkey-server in each way it can break
// and checks the store's answer: the code callers act on, a message that
// says what happened, and no wait beyond the caller's deadline.
func TestErrorsFromValkey(t *testing.T) {
	t.Parallel()
	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		s := storeAt(t, srv.Addr)
		srv.Kill()
		start := time.Now()
		_, err := s.Head(testCtx(t), randomNS(t))
		wantUnavailable(t, err, start, "unreachable")
	})
	t.Run("Hung", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		s := storeAt(t, srv.Addr)
		ns := randomNS(t)
		if _, err := s.Head(testCtx(t), ns); err != nil { // connected before the hang
			t.Fatal(err)
		}
		srv.Pause()
		defer srv.Resume()
		ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.Head(ctx, ns)
		wantUnavailable(t, err, start, "deadline")
	})
	t.Run("ReadOnly", func(t *testing.T) {
		t.Parallel()
		primary := valkeytest.Start(t)
		replica := valkeytest.Start(t, "--replicaof", strings.Replace(primary.Addr, ":", " ", 1))
		s := storeAt(t, replica.Addr)
		ns := randomNS(t)
		start := time.Now()
		_, err := s.Append(testCtx(t), streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		wantUnavailable(t, err, start, "read-only")
	})
	t.Run("OutOfMemory", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, "--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
		s := storeAt(t, srv.Addr)
		ns := randomNS(t)
		ctx := testCtx(t)
		big := domaintest.NewDoc(3000) // ~1.5 MB: more than maxmemory
		var err error
		start := time.Now()
		for i := 0; i < 3 && err == nil; i++ { // the first append may fit
			big.Touch(i)
			_, err = streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(t, big.Bytes())}, "")
		}
		wantUnavailable(t, err, start, "out of memory")
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		s, ns := mustStore(t, streams.Config{})
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		_, err := s.Head(ctx, ns)
		wantCode(t, err, domain.ECANCELED)
	})
	t.Run("Restarted", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
		s := storeAt(t, srv.Addr)
		ns := randomNS(t)
		ctx := testCtx(t)
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"a":1}`)}); err != nil {
			t.Fatal(err)
		}
		srv.Kill()
		srv.Restart(t)
		// The first command on a connection the restart broke may fail;
		// the client reconnects by itself, without anyone retrying for it
		// past a second.
		deadline := time.Now().Add(10 * time.Second)
		for {
			start := time.Now()
			h, err := s.Head(ctx, ns)
			if err == nil {
				if h.Revision != 1 {
					t.Fatalf("got revision %d after the restart, want 1", h.Revision)
				}
				return
			}
			wantUnavailable(t, err, start, "")
			if time.Now().After(deadline) {
				t.Fatalf("still failing 10s after the restart: %v", err)
			}
		}
	})
}

func storeAt(tb testing.TB, addr string) *streams.Store {
	tb.Helper()
	s, err := streams.New(mustClient(tb, addr), streams.Config{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// wantUnavailable checks err is EUNAVAILABLE with a message containing
// what, returned within fast of start.
func wantUnavailable(tb testing.TB, err error, start time.Time, what string) {
	tb.Helper()
	if took := time.Since(start); took > fast {
		tb.Errorf("took %s to fail, want under %s", took, fast)
	}
	wantCode(tb, err, domain.EUNAVAILABLE)
	if msg := domain.ErrorMessage(err); !strings.Contains(msg, what) {
		tb.Fatalf("got message %q, want it to say %q", msg, what)
	}
}

// TestDurabilityRequired asks for a replica that does not exist: the append
// lands, and the caller is told it is not as durable as required.
func TestDurabilityRequired(t *testing.T) {
	t.Parallel()
	d := streams.Durability{Replicas: 1, Timeout: 50 * time.Millisecond, Required: true}
	s, ns := mustStore(t, streams.Config{Durability: d})
	ctx := testCtx(t)
	res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "k1"})
	wantCode(t, err, domain.EUNAVAILABLE)
	if msg := domain.ErrorMessage(err); !strings.Contains(msg, "1 replica") || !strings.Contains(msg, "Idempotency-Key") {
		t.Fatalf("got message %q, want it to name what was asked and how to retry", msg)
	}
	if res.Revision != 1 || res.Durability == nil || res.Durability.Achieved {
		t.Fatalf("got %+v (durability %+v), want revision 1 reported as not durable", res, res.Durability)
	}
	if h, err := s.Head(ctx, ns); err != nil || h.Revision != 1 {
		t.Fatalf("got head %d (%v), want the event appended at 1", h.Revision, err)
	}
	t.Run("RetryWithSameKeyAppendsNothing", func(t *testing.T) {
		res, _ := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "k1"})
		if !res.Duplicate || res.Revision != 1 {
			t.Fatalf("got %+v, want the first append's revision 1 as a duplicate", res)
		}
		if h, _ := s.Head(ctx, ns); h.Revision != 1 {
			t.Fatalf("got head %d, want 1", h.Revision)
		}
	})
	t.Run("Flows", func(t *testing.T) {
		doc := domaintest.NewDoc(5)
		res, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}, "")
		wantCode(t, err, domain.EUNAVAILABLE)
		if res.Revision != 2 {
			t.Fatalf("got revision %d, want 2 reported with the error", res.Revision)
		}
		// A deploy based on what landed (though answered 503) lands after it.
		doc.Touch(1)
		base, err := s.FlowsHead(ctx, ns, false)
		if err != nil || base.AggregateRevision != res.AggregateRevision {
			t.Fatalf("got head at %v (%v), want the flows that landed at %d", base, err, res.AggregateRevision)
		}
		res, err = streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}, "")
		wantCode(t, err, domain.EUNAVAILABLE)
		if res.Revision != 3 {
			t.Fatalf("got revision %d, want 3", res.Revision)
		}
	})
}

// TestDurabilityRequiredRetry retries an append that fell short with its
// idempotency key while the replica still lags: the retry must fall short
// too, not be reported durable because its connection wrote nothing.
func TestDurabilityRequiredRetry(t *testing.T) {
	t.Parallel()
	primary := valkeytest.Start(t)
	replica := valkeytest.Start(t, "--replicaof", strings.Replace(primary.Addr, ":", " ", 1))
	c := mustClient(t, primary.Addr)
	ctx := testCtx(t)
	waitLinked := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			info, _ := c.Do(ctx, c.B().Info().Section("replication").Build()).ToString()
			if strings.Contains(info, "state=online") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the replica did not link: %s", info)
			}
			time.Sleep(20 * time.Millisecond) // a replica links in its own time
		}
	}
	waitLinked()
	s, err := streams.New(c, streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: 200 * time.Millisecond, Required: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := randomNS(t)
	replica.Pause()
	defer replica.Resume()
	_, err = s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "k"})
	wantCode(t, err, domain.EUNAVAILABLE)
	// The retry reaches another replica of flowhist: a connection that
	// has written nothing before.
	other, err := streams.New(mustClient(t, primary.Addr), streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: 200 * time.Millisecond, Required: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := other.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "k"})
	if err == nil || res.Durability == nil || res.Durability.Achieved {
		t.Fatalf("the retry with the replica still paused: got %+v durability %+v (%v), want a shortfall", res, res.Durability, err)
	}
	replica.Resume()
	// The replica catches up in its own time (the primary's INFO said
	// online all along): a retry is durable once it has.
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err = s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "k"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retry with the replica back: got %+v (%v), want it durable within 20s", res, err)
		}
	}
	if !res.Duplicate || res.Revision != 1 {
		t.Fatalf("the retry with the replica back: got %+v, want the first append's revision 1", res)
	}
}

// TestCallEndsByItsDeadlineWhileAnotherReconnects: with Valkey hung, a
// call that finds the shared connection being re-established by another
// call (whose deadline is long) still ends by its own deadline. rueidis
// alone makes it wait for the other call's handshake.
func TestCallEndsByItsDeadlineWhileAnotherReconnects(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t)
	// One connection for pipelining (rueidis spreads calls over several):
	// the second call must meet the reconnection of the first.
	c, err := streams.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, PipelineMultiplex: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	// Hang the server; a call that times out there leaves the connection
	// broken, so the next call reconnects, and its handshake gets no
	// answer.
	srv.Pause()
	defer srv.Resume()
	first, cancel0 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel0()
	if err := c.Do(first, c.B().Get().Key("k").Build()).Error(); err == nil {
		t.Fatal("got an answer from a hung Valkey")
	}
	long, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	go c.Do(long, c.B().Get().Key("k").Build())
	// Give the long call the time to start the reconnection (nothing to
	// wait on from outside: the server is stopped).
	time.Sleep(100 * time.Millisecond)
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	start := time.Now()
	err = c.Do(short, c.B().Get().Key("k").Build()).Error()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a call with a 200 ms deadline took %s (%v), want it ended by its deadline", took, err)
	}
	if err == nil {
		t.Fatal("got an answer from a hung Valkey, want the deadline's error")
	}
}

// TestDurableAppendEndsByItsDeadline: an append that needs a connection
// of its own (for WAIT) answers by its deadline when Valkey hangs (rueidis
// takes that connection without a context; the script's call has one).
func TestDurableAppendEndsByItsDeadline(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t)
	s, err := streams.New(mustClient(t, srv.Addr), streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: 50 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := randomNS(t)
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "k1"})
	wantUnavailable(t, err, start, "")
}
