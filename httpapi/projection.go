package httpapi

import (
	"context"

	"go.uber.org/zap"
)

// projectSoon projects ns in the background after an append. The request
// does not wait for it: every read catches the projection up first, so
// readers still see every write that returned, and a deploy answers
// without writing the document a second time. What it buys is the old
// module's compat keys and publish within milliseconds of the deploy.
// At most one projection per namespace runs; appends during it make it run
// once more.
func (s *Server) projectSoon(ns string) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.closed {
		return
	}
	if _, running := s.projecting[ns]; running {
		s.projecting[ns] = true // run again when done
		return
	}
	s.projecting[ns] = false
	s.pwg.Add(1)
	go func() {
		defer s.pwg.Done()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
			_, err := s.proj.CatchUpNamespace(ctx, ns)
			cancel()
			if err != nil {
				s.log.Warn("projection after append failed; the background projector will retry", zap.String("ns", ns), zap.Error(err))
			}
			s.pmu.Lock()
			if again := s.projecting[ns]; again {
				s.projecting[ns] = false
				s.pmu.Unlock()
				continue
			}
			delete(s.projecting, ns)
			s.pmu.Unlock()
			return
		}
	}()
}

// waitProjections stops new background projections and waits for the
// running ones.
func (s *Server) waitProjections() {
	s.pmu.Lock()
	s.closed = true
	s.pmu.Unlock()
	s.pwg.Wait()
}
