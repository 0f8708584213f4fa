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
	"github.com/flowhist/flowhist/streams"
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
	f := feedRequest{Request: feed.Request{Namespace: r.PathValue("ns"), Worker: q.Get("worker"), Ring: q.Get("ring")}}
	if err := validateWorker(f.Worker); err != nil {
		return f, err
	}
	if err := queryRing(f.Ring); err != nil {
		return f, err
	}
	var err error
	if f.Start, err = queryRevision(q.Get("after"), "after"); err != nil {
		return f, err
	}
	if f.Ack, err = queryRevision(q.Get("ack"), "ack"); err != nil {
		return f, err
	}
	if f.StartID, err = queryEventID(q.Get("afterId"), "afterId", f.Start); err != nil {
		return f, err
	}
	if f.AckID, err = queryEventID(q.Get("ackId"), "ackId", f.Ack); err != nil {
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
// Positions name the event: after=REV&afterId=ID is what the worker runs,
// ack=REV&ackId=ID what it applied (each news names its event's id). Where
// the log does not hold that event at that revision (Valkey lost a write
// in a failover, or was restored), the worker is marked diverged and the
// answer (a long poll's, or the stream's next line) is a reset:
// {"revision":HEAD,"id":HEAD_ID,"flows":true,"packages":true,"events":0,
// "reset":true}; the worker reloads the head and acknowledges it. A worker
// that names no id is checked by revision alone (the log must have it).
//
// POST …/feed is the streamed feed with the worker's acknowledgements on
// the request's own body, one line {"ack": REV, "id": ID} each (or {"ack":
// REV}, an older worker's), read while the answer streams (HTTP/1.1 full
// duplex, or HTTP/2): a worker acknowledges without a request of its own.
// A line that is not an acknowledgement, or an acknowledgement that could
// not be written (or was refused: the log does not hold it), ends the
// answer; the worker asks again and its group hands back what it had not
// acknowledged, or a reset.
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
	if f.duplex && handOff(r) && s.followOffConn(w, r, f) {
		return nil // served off the connection (feed_handoff.go)
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
	give := news.Events > 0 || news.Reset
	if !a.stream {
		if give {
			writeJSON(a.w, http.StatusOK, news)
			a.started, a.done = true, true
		}
		return nil
	}
	if a.started && !give {
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
	if give {
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
		ID       string          `json:"id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return domain.Errorf(domain.EINVALID, "ack must be {\"worker\": \"<id>\", \"revision\": <n>, \"id\": \"<event id>\"}")
	}
	if err := validateWorker(req.Worker); err != nil {
		return err
	}
	if err := mayActAs(r, req.Worker); err != nil {
		return err
	}
	if _, err := queryEventID(req.ID, "id", req.Revision); err != nil {
		return err
	}
	n, err := s.feed.Ack(r.Context(), r.PathValue("ns"), req.Worker, streams.Position{Revision: req.Revision, ID: req.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Acked{Acknowledged: req.Revision, Entries: n})
	return nil
}

// maxAckLine bounds one line of a duplex feed's body.
const maxAckLine = 256

// maxAckLines bounds the lines one duplex feed answer reads off its body:
// a worker acknowledges each news line once, far fewer; a client sending
// more (blank lines, the same acknowledgement again) only costs flowhist
// and Valkey work, and is told to ask again.
const maxAckLines = 1024

var errTooManyAckLines = domain.Errorf(domain.EINVALID, "feed body: more than %d lines in one answer: acknowledge each news line once, and ask again", maxAckLines)

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

// ackLine reads an acknowledgement line, {"ack": REV, "id": ID} (the id
// optional). The forms workers send, {"ack":12,"id":"…"} and {"ack":12},
// are read without the JSON decoder (a deploy brings one from every worker
// at once); any other goes through it.
func ackLine(line []byte) (streams.Position, bool) {
	if rest, ok := bytes.CutPrefix(line, []byte(`{"ack":`)); ok {
		digits, id, tail := rest, []byte(nil), []byte(nil)
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			digits = rest[:i]
			if v, ok := bytes.CutPrefix(rest[i:], []byte(`,"id":"`)); ok {
				if v, ok := bytes.CutSuffix(v, []byte(`"}`)); ok && isEventID(v) {
					id, tail = v, []byte("}")
				}
			}
		} else if d, ok := bytes.CutSuffix(rest, []byte("}")); ok {
			digits, tail = d, []byte("}")
		}
		if tail != nil && isJSONUint(digits) {
			if n, err := strconv.ParseUint(string(digits), 10, 64); err == nil {
				return streams.Position{Revision: domain.Revision(n), ID: string(id)}, true
			}
		}
	}
	var a struct {
		Ack *domain.Revision `json:"ack"`
		ID  string           `json:"id"`
	}
	if err := json.Unmarshal(line, &a); err != nil || a.Ack == nil || a.ID != "" && !isEventID([]byte(a.ID)) {
		return streams.Position{}, false
	}
	return streams.Position{Revision: *a.Ack, ID: a.ID}, true
}

// isEventID: b could be an event id (a UUID: hex digits and dashes).
func isEventID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}

// queryEventID reads an optional event id naming the event at rev; absent
// is "".
func queryEventID(v, name string, rev domain.Revision) (string, error) {
	if v == "" {
		return "", nil
	}
	if !isEventID([]byte(v)) {
		return "", domain.Errorf(domain.EINVALID, "%s %q is not an event id: send the id the feed gave with the revision", name, clip(v))
	}
	if rev == 0 {
		return "", domain.Errorf(domain.EINVALID, "%s names the event of no revision: send it with the revision it belongs to", name)
	}
	return v, nil
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
// Errors: EINVALID (a line that is not {"ack": REV}), ECONFLICT (the log
// does not hold what it acknowledged: the worker asks again and is given a
// reset), ENOTFOUND (the
// worker's group is gone: it asks again and is given one),
// EUNAVAILABLE; and the body's read error once the answer ended.
func (s *Server) applyAcks(ctx context.Context, body io.Reader, f feedRequest) error {
	lines := bufio.NewScanner(body)
	lines.Buffer(make([]byte, 0, maxAckLine), maxAckLine)
	for n := 1; lines.Scan(); n++ {
		if n > maxAckLines {
			return errTooManyAckLines
		}
		if err := s.applyAck(ctx, lines.Bytes(), f); err != nil {
			return err
		}
	}
	return lines.Err()
}

// applyAck writes the acknowledgement on line (blank: none).
//
// Errors: as applyAcks.
func (s *Server) applyAck(ctx context.Context, line []byte, f feedRequest) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	rev, ok := ackLine(line)
	if !ok {
		return domain.Errorf(domain.EINVALID, "feed body line %q is not an acknowledgement such as {\"ack\":12,\"id\":\"<the news's id>\"}", clip(string(line)))
	}
	if rev.Revision == 0 {
		return nil
	}
	_, err := s.feed.Ack(ctx, f.Namespace, f.Worker, rev)
	return err
}
