package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// Limits bound what one token may ask of flowhist at once: a ceiling
// against a runaway or hostile client, not a quota. Zero fields take
// DefaultLimits'.
type Limits struct {
	// RequestsPerSecond is the sustained request rate (a token bucket).
	RequestsPerSecond float64
	// Burst is how many requests may come at once above that rate.
	Burst int
	// Feeds is how many feed requests and audit streams may be open at
	// once.
	Feeds int
}

// DefaultLimits are generous enough for a thousand workers sharing one
// token, each acknowledging every deploy with a request of its own.
var DefaultLimits = Limits{RequestsPerSecond: 5000, Burst: 20000, Feeds: 10000}

func (l Limits) withDefaults() Limits {
	if l.RequestsPerSecond == 0 {
		l.RequestsPerSecond = DefaultLimits.RequestsPerSecond
	}
	if l.Burst == 0 {
		l.Burst = DefaultLimits.Burst
	}
	if l.Feeds == 0 {
		l.Feeds = DefaultLimits.Feeds
	}
	return l
}

func (l Limits) validate() error {
	if l.RequestsPerSecond < 0 || l.Burst < 0 || l.Feeds < 0 || math.IsNaN(l.RequestsPerSecond) {
		return fmt.Errorf("limits must not be negative")
	}
	return nil
}

// tokenLimiter is one token's request bucket and open feeds.
type tokenLimiter struct {
	limits Limits
	mu     sync.Mutex
	tokens float64
	last   time.Time
	feeds  int
}

func newTokenLimiter(l Limits) *tokenLimiter {
	l = l.withDefaults()
	return &tokenLimiter{limits: l, tokens: float64(l.Burst)}
}

// allow takes one request from the bucket, or says how long until one is
// there.
func (l *tokenLimiter) allow(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(float64(l.limits.Burst), l.tokens+now.Sub(l.last).Seconds()*l.limits.RequestsPerSecond)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.limits.RequestsPerSecond * float64(time.Second))
}

// openFeed counts a feed request in, unless the token has its fill.
func (l *tokenLimiter) openFeed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.feeds >= l.limits.Feeds {
		return false
	}
	l.feeds++
	return true
}

func (l *tokenLimiter) closeFeed() {
	l.mu.Lock()
	l.feeds--
	l.mu.Unlock()
}

// tooMany is the ETOOMANY answer, with its Retry-After (whole seconds,
// at least one).
func tooMany(w http.ResponseWriter, after time.Duration, format string, a ...any) error {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(after.Seconds())))))
	return domain.Errorf(domain.ETOOMANY, format, a...)
}

// limitRequest takes the request from its token's bucket.
//
// Errors: ETOOMANY.
func (s *Server) limitRequest(w http.ResponseWriter, tok *Token) error {
	if tok == nil {
		return nil
	}
	if ok, wait := s.limiters[tok].allow(time.Now()); !ok {
		return tooMany(w, wait, "token %s is over its %g requests per second (auth.tokens[].limits.requests_per_second)", tok.Name, tok.Limits.withDefaults().RequestsPerSecond)
	}
	return nil
}

// workerRoute is a route on which the token acts as a worker: the id the
// request names in its path ({worker}) or query (worker=) must be one the
// token's Workers cover, and a feed counts against its Feeds limit. An
// acknowledgement names its worker in its body: ackFeed checks that one.
func (s *Server) workerRoute(feed bool, h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("worker")
		if id == "" {
			id = r.URL.Query().Get("worker")
		}
		tok, _ := r.Context().Value(tokenKey).(*Token)
		if id != "" || tok != nil && len(tok.Workers) == 0 {
			if err := mayActAs(r, id); err != nil {
				return err
			}
		}
		if feed {
			if err := mayJoinRing(r, r.URL.Query().Get("ring")); err != nil {
				return err
			}
		}
		if tok != nil && feed {
			l := s.limiters[tok]
			if !l.openFeed() {
				return tooMany(w, time.Second, "token %s has %d feed requests open, its limit (auth.tokens[].limits.feeds)", tok.Name, l.limits.Feeds)
			}
			var release func()
			r, release = withFeedSlot(r, l.closeFeed) // a duplex feed may take it over
			defer release()
		}
		if err := s.limitGroups(r.Context(), w, r.PathValue("ns"), id); err != nil {
			return err
		}
		return h(w, r)
	}
}

// groupCache remembers the workers known to have a consumer group, and
// each namespace's count of groups for a while: a worker new to this
// replica costs one small call (does it have a group?), and a thousand
// new workers starting at once cost their namespace a count or two, not a
// thousand.
type groupCache struct {
	mu       sync.Mutex
	known    map[string]struct{} // ns + "\x00" + worker
	counts   map[string]groupCount
	counting map[string]chan struct{} // ns → closed when its count under way is in counts
}

// groupCount is a namespace's count of groups as of at, plus the workers
// new to this replica since.
type groupCount struct {
	n  int
	at time.Time
}

// Bounds of the cache: past maxGroupCache entries it starts again; a count
// is read again after groupCountTTL.
const (
	maxGroupCache = 1 << 17
	groupCountTTL = 10 * time.Second
)

// limitGroups refuses a worker new to ns when ns has MaxGroups consumer
// groups already (as far as this replica knows: replicas starting new
// workers at the same moment may pass it by a few).
//
// Errors: ETOOMANY, EUNAVAILABLE.
func (s *Server) limitGroups(ctx context.Context, w http.ResponseWriter, ns, worker string) error {
	if worker == "" || validateWorker(worker) != nil {
		return nil // the handler says what is wrong with it
	}
	key := ns + "\x00" + worker
	c := &s.groups
	now := time.Now()
	c.mu.Lock()
	_, known := c.known[key]
	cnt, fresh := c.counts[ns]
	c.mu.Unlock()
	if known {
		return nil
	}
	// A feed request's deadline is its wait's: these are Valkey calls.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	has, err := s.store.HasWorkerGroup(ctx, ns, worker)
	if err != nil {
		return err
	}
	if !has {
		if !fresh || now.Sub(cnt.at) > groupCountTTL {
			if cnt, err = s.countGroups(ctx, ns, now); err != nil {
				return err
			}
		}
		if cnt.n >= s.cfg.MaxGroups {
			return tooMany(w, time.Minute, "namespace %s has %d consumer groups, its limit (http.max_groups): remove idle workers (flowhist workers) or raise it", ns, cnt.n)
		}
		cnt.n++ // this one's, about to be created
	}
	c.mu.Lock()
	if c.known == nil || len(c.known) >= maxGroupCache {
		c.known, c.counts = map[string]struct{}{}, map[string]groupCount{}
	}
	c.known[key] = struct{}{}
	if !has {
		c.counts[ns] = cnt
	}
	c.mu.Unlock()
	return nil
}

// countGroups counts ns's groups, once for all the new workers asking at
// the same moment (a count reads every group: ten thousand workers
// starting at once must not each read ten thousand).
//
// Errors: EUNAVAILABLE.
func (s *Server) countGroups(ctx context.Context, ns string, now time.Time) (groupCount, error) {
	c := &s.groups
	c.mu.Lock()
	if under, ok := c.counting[ns]; ok {
		c.mu.Unlock()
		select {
		case <-under:
		case <-ctx.Done():
			return groupCount{}, domain.Errorf(domain.EUNAVAILABLE, "counting the workers of namespace %s took too long: valkey is slow or unreachable", ns)
		}
		c.mu.Lock()
		cnt, ok := c.counts[ns]
		c.mu.Unlock()
		if ok && now.Sub(cnt.at) <= groupCountTTL {
			return cnt, nil
		}
		c.mu.Lock()
	}
	under := make(chan struct{})
	if c.counting == nil {
		c.counting = map[string]chan struct{}{}
	}
	c.counting[ns] = under
	c.mu.Unlock()
	n, err := s.store.GroupCount(ctx, ns)
	c.mu.Lock()
	delete(c.counting, ns)
	if err == nil {
		if c.counts == nil {
			c.counts = map[string]groupCount{}
		}
		c.counts[ns] = groupCount{n: n, at: now}
	}
	c.mu.Unlock()
	close(under)
	return groupCount{n: n, at: now}, err
}
