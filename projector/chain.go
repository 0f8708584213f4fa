package projector

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// ErrChainBroken is the cause of the ECORRUPT error of a namespace whose
// log's hash chain breaks: the log is not what was appended. The projector
// folds nothing past the break, and writes to the namespace are refused
// until the log is repaired (or the process restarts and finds it intact).
var ErrChainBroken = errors.New("the namespace's hash chain breaks")

// Broken is a namespace that failed verification as the projector caught
// up.
type Broken struct {
	Namespace string          `json:"namespace"`
	Revision  domain.Revision `json:"revision"`
	Problem   string          `json:"problem"`
	Since     time.Time       `json:"since"`
}

// brokenError is the error of a broken namespace.
func (b *Broken) err() error {
	return &domain.Error{Code: domain.ECORRUPT, Err: ErrChainBroken,
		Message: "namespace " + b.Namespace + " fails verification: " + b.Problem + ": nothing is written to it until its log is repaired (run flowhist verify -n " + b.Namespace + ")"}
}

// Refuse returns the error of ns when its chain broke as it was caught up,
// nil otherwise: use cases call it before appending.
//
// Errors: ECORRUPT wrapping ErrChainBroken.
func (p *Projector) Refuse(ns string) error {
	if b, ok := p.broken.Load(ns); ok {
		return b.(*Broken).err()
	}
	return nil
}

// BrokenNamespaces lists the namespaces failing verification, by name.
func (p *Projector) BrokenNamespaces() []Broken {
	var out []Broken
	p.broken.Range(func(_, v any) bool {
		out = append(out, *v.(*Broken))
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// checkLinks checks the links of the events read after s's fold and
// returns how many of them may be folded: all, or those before the break,
// which it marks (logging once).
func (p *Projector) checkLinks(ctx context.Context, ns string, s *nsState, after streams.After) (int, error) {
	if !streams.Chained(ns) {
		return len(after.Links), nil
	}
	if s.chain == nil {
		c, err := p.store.ChainOf(ctx, ns)
		if err != nil {
			return 0, err
		}
		s.chain = &c
	}
	link := s.link
	if link == "" {
		link = after.LinkAt
	}
	check := streams.ResumeChainCheck(*s.chain, s.st.Revision, link)
	for i, l := range after.Links {
		if err := check.Next(l); err != nil {
			p.markBroken(ns, l.Revision, err)
			return i, nil
		}
	}
	if len(after.Links) > 0 {
		if _, was := p.broken.LoadAndDelete(ns); was {
			p.log.Info("the namespace's hash chain is intact again; writes are accepted", zap.String("ns", ns))
		}
	}
	return len(after.Links), nil
}

func (p *Projector) markBroken(ns string, rev domain.Revision, err error) {
	b := &Broken{Namespace: ns, Revision: rev, Problem: err.Error(), Since: time.Now().UTC()}
	if _, loaded := p.broken.LoadOrStore(ns, b); !loaded {
		p.log.Error("the namespace's log fails verification: its hash chain breaks; nothing past the break is projected and writes are refused (run flowhist verify)",
			zap.String("ns", ns), zap.Uint64("rev", uint64(rev)), zap.String("problem", err.Error()))
	}
}

// Verified catches ns up and returns the revision its fold reached and that
// revision's link: the head this process checked the chain up to, which is
// what serve signs (never meta's word for it).
//
// Errors: those of CatchUpNamespace (ECORRUPT wrapping ErrChainBroken for a
// namespace whose chain broke: nothing of it is signed).
func (p *Projector) Verified(ctx context.Context, ns string) (domain.Revision, string, error) {
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		return 0, "", err
	}
	s := p.ns(ns)
	if err := s.lock(ctx); err != nil {
		return 0, "", err
	}
	defer s.unlock()
	if s.st == nil {
		return 0, "", domain.Errorf(domain.EUNAVAILABLE, "namespace %s: its projection was dropped by a failed write: retry", ns)
	}
	if s.link == "" && s.st.Revision > 0 {
		after, err := p.store.ReadAfter(ctx, ns, s.st.Revision, s.last, 1)
		if err != nil {
			return 0, "", err
		}
		if after.Diverged {
			return 0, "", domain.Errorf(domain.EUNAVAILABLE, "namespace %s: the log changed under the projection: retry", ns)
		}
		s.link = after.LinkAt
	}
	if s.link == "" && s.st.Revision > 0 {
		// The last entry predates the chain: the anchor links it.
		c, err := p.store.ChainOf(ctx, ns)
		if err != nil {
			return 0, "", err
		}
		if c.Start != s.st.Revision+1 {
			return 0, "", domain.Errorf(domain.ECORRUPT, "namespace %s: revision %d stores no link and is not where the chain was anchored", ns, s.st.Revision)
		}
		s.link = c.Anchor
	}
	return s.st.Revision, s.link, nil
}
