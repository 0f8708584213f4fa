package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/feed"
	"go.uber.org/zap"
)

// The worker feed's HTTP: GET …/feed, POST …/feed and POST …/feed/ack. The
// following, waiting and acknowledgement batching are package feed's; here
// are the request's parsing, the answer's framing (a long poll's JSON, a
// stream's lines) and the acknowledgement lines of a duplex request's body.

// feedRequest is one GET …/feed, parsed.
type feedRequest struct {
	feed.Request
	wait time.Duration
	// stream keeps the answer open for the wait, a line per burst;
	// otherwise the first news ends it.
	stream bool
	// duplex: the request's body carries the worker's acknowledgements
	// while the answer streams (POST …/feed).
	duplex bool
}

func (s *Server) parseFeedRequest(r *http.Request) (feedRequest, error) {
	q := r.URL.Query()
	f := feedRequest{Request: feed.Request{Namespace: r.PathValue("ns"), Worker: q.Get("worker")}}
	if err := validateWorker(f.Worker); err != nil {
		return f, err
	}
	var err error
	if f.Start, err = queryRevision(q.Get("after"), "after"); err != nil {
		return f, err
	}
	if f.Ack, err = queryRevision(q.Get("ack"), "ack"); err != nil {
		return f, err
	}
	f.wait = min(s.cfg.FeedDefaultWait, s.cfg.FeedMaxWait)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return f, domain.Errorf(domain.EINVALID, "wait %q is not a duration such as 30s", clip(v))
		}
		f.wait = min(d, s.cfg.FeedMaxWait)
	}
	f.stream, err = queryBool(q, "stream")
	if r.Method == http.MethodPost {
		f.stream, f.duplex = true, true
	}
	return f, err
}

// getFeed answers a worker's feed request: entries delivered before and
// not acknowledged come first, then new ones; with none it waits for the
// namespace's next entry, up to wait. A long poll answers 200 with
// FeedNews, or 204 when the wait ended with nothing. ack=REV acknowledges
// up to REV first, as POST …/feed/ack does, saving a worker that request.
// With stream=1 the answer does not end at the first news: it is one
// FeedNews line per burst (application/x-ndjson) until the wait ends.
//
// POST …/feed is the streamed feed with the worker's acknowledgements on
// the request's own body, one line {"ack": REV} each, read while the
// answer streams (HTTP/1.1 full duplex, or HTTP/2): a worker acknowledges
// without a request of its own. A line that is not an acknowledgement,
// or an acknowledgement that could not be written, ends the answer; the
// worker asks again and its group hands back what it had not
// acknowledged.
func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseFeedRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// Before a duplex body's first acknowledgement, which needs the group.
	if err := s.feed.Join(ctx, f.Request); err != nil {
		return err
	}
	acks := &ackReader{}
	if f.duplex {
		ctx = s.readAcks(ctx, w, r, f, acks)
		defer acks.stop()
	}
	end := time.NewTimer(f.wait)
	defer end.Stop()
	out := feedAnswer{w: w, stream: f.stream}
	err = s.feed.Follow(ctx, f.Request, &out, end.C)
	if ackErr := acks.failure(); ackErr != nil && !out.started {
		// The body ended the request before any answer: say why (a line
		// that is not an acknowledgement is the worker's to fix).
		return ackErr
	}
	if err != nil && out.started {
		// The answer is under way: end it, and the worker asks again. An
		// outage is the Valkey monitor's to report.
		log := s.log.Warn
		if c := domain.ErrorCode(err); c == domain.EUNAVAILABLE || c == domain.ECANCELED {
			log = s.log.Debug
		}
		log("feed stream ends: reading the worker's group failed", zap.String("ns", f.Namespace), zap.String("worker", f.Worker), zap.Error(err))
		return nil
	}
	if err == nil && !out.started {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}

// feedAnswer writes news the way the request asked: a long poll's single
// JSON answer, or a stream's lines.
type feedAnswer struct {
	w       http.ResponseWriter
	stream  bool
	started bool // the status line is written
	done    bool // a long poll gave its answer
}

// Done reports whether a long poll gave its answer.
func (a *feedAnswer) Done() bool { return a.done }

// Give writes news if it has any (a stream's headers in any case). It
// fails when the worker has gone away.
func (a *feedAnswer) Give(n feed.News) error {
	news := FeedNews(n)
	if !a.stream {
		if news.Events > 0 {
			writeJSON(a.w, http.StatusOK, news)
			a.started, a.done = true, true
		}
		return nil
	}
	if a.started && news.Events == 0 {
		return nil
	}
	if !a.started {
		h := a.w.Header()
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // nginx: pass lines on as they come
		a.w.WriteHeader(http.StatusOK)
		a.started = true
	}
	if news.Events > 0 {
		line, _ := json.Marshal(news)
		a.w.Write(append(line, '\n'))
	}
	return http.NewResponseController(a.w).Flush()
}

// queryRevision reads an optional revision query parameter; absent is 0.
func queryRevision(v, name string) (domain.Revision, error) {
	if v == "" {
		return 0, nil
	}
	rev, err := domain.ParseRevision(v)
	if err != nil {
		return 0, domain.Errorf(domain.EINVALID, "%s %q is not a revision: use a whole number such as %s=12", name, clip(v), name)
	}
	return rev, nil
}

// ackFeed acknowledges everything delivered to the worker up to a revision.
func (s *Server) ackFeed(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSONObject(w, r, "ack")
	if err != nil {
		return err
	}
	var req struct {
		Worker   string          `json:"worker"`
		Revision domain.Revision `json:"revision"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return domain.Errorf(domain.EINVALID, "ack must be {\"worker\": \"<id>\", \"revision\": <n>}")
	}
	if err := validateWorker(req.Worker); err != nil {
		return err
	}
	if err := mayActAs(r, req.Worker); err != nil {
		return err
	}
	n, err := s.feed.Ack(r.Context(), r.PathValue("ns"), req.Worker, req.Revision)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Acked{Acknowledged: req.Revision, Entries: n})
	return nil
}

// maxAckLine bounds one line of a duplex feed's body.
const maxAckLine = 256

// readAcks reads the acknowledgements on a duplex feed request's body and
// writes them, until the body ends or the answer does (stop, which waits
// for the reading to end). The returned context ends when the worker sent
// something that is not an acknowledgement or one could not be written:
// the answer ends, and the worker asks again.
func (s *Server) readAcks(ctx context.Context, w http.ResponseWriter, r *http.Request, f feedRequest, a *ackReader) context.Context {
	rc := http.NewResponseController(w)
	// HTTP/1.1 stops reading the body when the answer starts unless told
	// otherwise; HTTP/2 reads both ways anyway (ErrNotSupported).
	rc.EnableFullDuplex()
	// The body is read until the answer ends, which leaves the connection's
	// reader in no state to take another request (it may have timed out
	// or hold part of a line): the next feed request opens a connection of
	// its own.
	w.Header().Set("Connection", "close")
	// The server's read timeout is for ordinary bodies; this one lasts
	// as long as the answer.
	rc.SetReadDeadline(time.Now().Add(f.wait + s.cfg.RequestTimeout))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.applyAcks(ctx, r.Body, f); err != nil && ctx.Err() == nil {
			// The worker's fault, or an outage the Valkey monitor
			// reports: the worker asks again either way.
			s.log.Debug("feed stream ends: an acknowledgement on its body failed", zap.String("ns", f.Namespace), zap.String("worker", f.Worker), zap.Error(err))
			a.err.Store(&err)
			cancel()
		}
	}()
	a.stop = func() {
		cancel()
		// Unblocks the read: the answer is over.
		rc.SetReadDeadline(time.Now())
		<-done
		// The connection may carry another request: a deadline left in
		// the past would cancel it at once where the server sets none.
		rc.SetReadDeadline(time.Time{})
	}
	return ctx
}

// ackLine reads an acknowledgement line, {"ack": REV}. The form workers
// send, {"ack":12}, is read without the JSON decoder (a deploy brings one
// from every worker at once); any other goes through it.
func ackLine(line []byte) (domain.Revision, bool) {
	if digits, ok := bytes.CutPrefix(line, []byte(`{"ack":`)); ok {
		if digits, ok := bytes.CutSuffix(digits, []byte("}")); ok && isJSONUint(digits) {
			if n, err := strconv.ParseUint(string(digits), 10, 64); err == nil {
				return domain.Revision(n), true
			}
		}
	}
	var a struct {
		Ack *domain.Revision `json:"ack"`
	}
	if err := json.Unmarshal(line, &a); err != nil || a.Ack == nil {
		return 0, false
	}
	return *a.Ack, true
}

// isJSONUint: b is a JSON number made of digits only (no leading zero).
func isJSONUint(b []byte) bool {
	if len(b) == 0 || b[0] == '0' && len(b) > 1 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ackReader is a duplex feed's acknowledgement reader: stop ends it (and
// waits for it), failure is what ended the request, if the body did.
type ackReader struct {
	stop func()
	err  atomic.Pointer[error]
}

func (a *ackReader) failure() error {
	if p := a.err.Load(); p != nil {
		return *p
	}
	return nil
}

// applyAcks writes each acknowledgement line of body, in order, until it
// ends. An acknowledgement past what the worker was told cannot cover
// more than the group delivered: entries after it stay pending.
//
// Errors: EINVALID (a line that is not {"ack": REV}), ENOTFOUND (the
// worker's group is gone: it asks again and is given one),
// EUNAVAILABLE; and the body's read error once the answer ended.
func (s *Server) applyAcks(ctx context.Context, body io.Reader, f feedRequest) error {
	lines := bufio.NewScanner(body)
	lines.Buffer(make([]byte, 0, maxAckLine), maxAckLine)
	for lines.Scan() {
		line := bytes.TrimSpace(lines.Bytes())
		if len(line) == 0 {
			continue
		}
		rev, ok := ackLine(line)
		if !ok {
			return domain.Errorf(domain.EINVALID, "feed body line %q is not an acknowledgement such as {\"ack\":12}", clip(string(line)))
		}
		if rev == 0 {
			continue
		}
		if _, err := s.feed.Ack(ctx, f.Namespace, f.Worker, rev); err != nil {
			return err
		}
	}
	return lines.Err()
}
