package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/feed"
	"go.uber.org/zap"
)

// A duplex feed (POST …/feed over HTTP/1.1) waits for hours on a
// connection that carries a line now and then. Served by net/http it holds
// the connection's 4 KiB read and 4 KiB write buffers, the answer's 2 KiB
// one, the handler's goroutine, whose stack (the whole middleware chain) is
// 8 KiB or more, and a goroutine reading the body, for as long as it waits:
// ~45 KiB a waiting worker (BenchmarkFeedWaiterMemory). So once the request
// is parsed, authorised and joined, the handler takes the connection over
// (Hijack) and returns, and one goroutine of its own, started shallow,
// serves it: it follows the feed, writes its lines as HTTP/1.1 chunks
// straight to the connection, and while it waits reads the worker's
// acknowledgements off the request's chunked body, a few bytes at a time;
// the namespace's tail wakes it by cutting that read short
// (feed.Sleeper). The wire is the same as net/http's.

// feedSlot is a feed request's place in its token's limits.feeds: released
// when the handler returns, unless the handler took it over (take).
type feedSlot struct {
	mu      sync.Mutex
	release func()
}

type feedSlotKey struct{}

// withFeedSlot gives r a slot released by the returned function.
func withFeedSlot(r *http.Request, release func()) (*http.Request, func()) {
	s := &feedSlot{release: release}
	return r.WithContext(context.WithValue(r.Context(), feedSlotKey{}, s)), func() {
		if rel := s.take(); rel != nil {
			rel()
		}
	}
}

// take returns the slot's release, once (nil after, or without a slot).
func (s *feedSlot) take() func() {
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := s.release
	s.release = nil
	return rel
}

// handOff reports whether a duplex feed request can be served off its
// connection: HTTP/1.x with a chunked body, no Expect.
func handOff(r *http.Request) bool {
	return r.ProtoMajor == 1 && len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked" && r.Header.Get("Expect") == ""
}

// followOffConn takes r's connection over and serves the duplex feed f on
// it from goroutines of its own; the handler returns. It reports false
// (nothing done) when the connection cannot be taken over.
func (s *Server) followOffConn(w http.ResponseWriter, r *http.Request, f feedRequest) bool {
	slot, _ := r.Context().Value(feedSlotKey{}).(*feedSlot)
	// A closing server takes no more connections over: the feed is
	// answered where it came (no news, the feed being closed).
	s.handoffMu.Lock()
	if s.closing {
		s.handoffMu.Unlock()
		return false
	}
	s.handoffs.Add(1)
	s.handoffMu.Unlock()
	header := w.Header().Clone()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.handoffs.Done()
		return false
	}
	// What the client sent past the request's head (acknowledgements
	// already).
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		early = bytes.Clone(b)
	}
	// Not r: its body holds the connection's read buffer.
	out := &connAnswer{s: s, f: &f, conn: conn, header: header, early: early,
		method: r.Method, path: r.URL.Path, end: time.Now().Add(f.wait)}
	out.body.line = out.ack
	release := slot.take()
	go s.serveConnFeed(out, release)
	return true
}

// serveConnFeed follows the feed on out's connection, ends the answer and
// closes the connection. Only its frame and Follow's are on the stack while
// the worker waits: it stays small (4 KiB once the GC shrinks it).
func (s *Server) serveConnFeed(out *connAnswer, release func()) {
	defer s.handoffs.Done()
	defer release()
	defer func() {
		// As net/http does for a handler: a panic serving one feed ends
		// that feed (its slot released, Close not kept waiting), not the
		// process.
		if p := recover(); p != nil {
			s.log.Error("panic serving a feed off its connection", zap.String("ns", out.f.Namespace), zap.String("worker", out.f.Worker), zap.Any("panic", p), zap.Stack("stack"))
			out.conn.Close()
		}
	}()
	err := s.feed.Follow(context.Background(), out.f.Request, out, nil)
	s.endConnFeed(out, err)
}

// endConnFeed ends the answer after Follow returned err, and closes the
// connection.
func (s *Server) endConnFeed(out *connAnswer, err error) {
	defer out.conn.Close()
	f := out.f
	switch {
	case out.ackErr != nil && !out.started:
		err = out.ackErr
	case out.ackErr != nil:
		// The worker's fault, or an outage the Valkey monitor reports:
		// the worker asks again either way.
		s.log.Debug("feed stream ends: an acknowledgement on its body failed", zap.String("ns", f.Namespace), zap.String("worker", f.Worker), zap.Error(out.ackErr))
	case err != nil && out.started:
		log := s.log.Warn
		if code := domain.ErrorCode(err); code == domain.EUNAVAILABLE || code == domain.ECANCELED {
			log = s.log.Debug
		}
		log("feed stream ends: reading the worker's group failed", zap.String("ns", f.Namespace), zap.String("worker", f.Worker), zap.Error(err))
		err = nil
	}
	switch {
	case err != nil:
		cr := &connResponse{header: out.header}
		s.writeError(cr, &http.Request{Method: out.method, URL: &url.URL{Path: out.path}}, err)
		cr.send(out.conn, s.cfg.WriteTimeout)
	case out.started:
		out.write([]byte("0\r\n\r\n"))
	default:
		cr := &connResponse{header: out.header, status: http.StatusNoContent}
		cr.send(out.conn, s.cfg.WriteTimeout)
	}
}

// connAnswer writes a stream's news as HTTP/1.1 chunks on a connection
// taken over, the answer's head before the first, and while it waits
// (Sleep) reads the acknowledgements off the request's chunked body.
type connAnswer struct {
	s            *Server
	f            *feedRequest
	conn         net.Conn
	header       http.Header // until the head is written
	method, path string      // the request's, for an error's log line
	end          time.Time   // of the wait
	started      bool
	failed       error // writing

	woken  atomic.Bool
	early  []byte // the body's first bytes, read with the request's head
	buf    [64]byte
	body   chunkedLines
	ackErr error // what ended it, if the body did
}

// Done: a stream is never done.
func (a *connAnswer) Done() bool { return false }

// Give writes news if it has any (the answer's head in any case). It fails
// when the worker has gone away.
func (a *connAnswer) Give(n feed.News) error {
	news := FeedNews(n)
	give := news.Events > 0 || news.Reset
	if a.started && !give {
		return nil
	}
	var buf []byte
	if !a.started {
		h := a.header
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // nginx: pass lines on as they come
		h.Set("Connection", "close")
		h.Set("Transfer-Encoding", "chunked")
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		var b bytes.Buffer
		b.WriteString("HTTP/1.1 200 OK\r\n")
		h.Write(&b)
		b.WriteString("\r\n")
		buf = b.Bytes()
		a.started, a.header = true, nil
	}
	if give {
		line, _ := json.Marshal(news)
		buf = strconv.AppendInt(buf, int64(len(line)+1), 16)
		buf = append(buf, "\r\n"...)
		buf = append(buf, line...)
		buf = append(buf, "\n\r\n"...)
	}
	return a.write(buf)
}

func (a *connAnswer) write(b []byte) error {
	if a.failed != nil {
		return a.failed
	}
	a.conn.SetWriteDeadline(time.Now().Add(a.s.cfg.WriteTimeout))
	_, a.failed = a.conn.Write(b)
	return a.failed
}

// ack writes the acknowledgement on a line of the body.
func (a *connAnswer) ack(line []byte) error { return a.s.applyAck(context.Background(), line, *a.f) }

// Wake cuts the read under way (or the next) short.
func (a *connAnswer) Wake() {
	a.woken.Store(true)
	a.conn.SetReadDeadline(time.Now())
}

// Sleep reads acknowledgements off the body, each written before the next
// is read, until Wake (true), the end of the wait, a line that is not an
// acknowledgement or one that could not be written, or the worker going
// away (false).
func (a *connAnswer) Sleep(ctx context.Context) bool {
	if a.early != nil {
		early := a.early
		a.early = nil
		if a.ackErr = a.body.feed(early); a.ackErr != nil {
			return false
		}
	}
	for {
		// The deadline first, then the flag: a Wake in between cuts the
		// read short.
		a.conn.SetReadDeadline(a.end)
		if a.woken.Swap(false) {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		n, err := a.conn.Read(a.buf[:])
		if n > 0 {
			if a.ackErr = a.body.feed(a.buf[:n]); a.ackErr != nil {
				return false
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if a.woken.Swap(false) {
				return true
			}
			if !time.Now().Before(a.end) {
				return false // the wait is over
			}
		default:
			return false // the worker went away
		}
	}
}

// chunkedLines reads a chunked HTTP/1.1 body in whatever pieces it comes
// and calls line with each line of its data (at most maxAckLine bytes).
type chunkedLines struct {
	state byte  // 0: a chunk's size line; 1: its data; 2: the CRLF after it; 3: the body ended
	size  int64 // of the chunk's data not read yet
	head  []byte
	data  []byte
	line  func([]byte) error
	lines int // read so far (maxAckLines)
	after int // bytes read after the body ended
}

// maxAfterBody bounds what a duplex body may send after its last chunk
// (trailers and the final CRLF): more is not a feed's, and reading it
// only to drop it would keep a core busy for nothing.
const maxAfterBody = 1024

var newline = []byte{'\n'}

// feed reads p, the next bytes of the body.
//
// Errors: EINVALID (not chunked, a line too long), line's.
func (c *chunkedLines) feed(p []byte) error {
	for len(p) > 0 {
		switch c.state {
		case 0:
			part, rest, found := bytes.Cut(p, newline)
			c.head, p = append(c.head, part...), rest
			if len(c.head) > 64 {
				return domain.Errorf(domain.EINVALID, "feed body: a chunk size line of more than 64 bytes")
			}
			if !found {
				continue
			}
			size := bytes.TrimSpace(c.head)
			if j := bytes.IndexByte(size, ';'); j >= 0 {
				size = size[:j]
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
			if err != nil || n < 0 {
				return domain.Errorf(domain.EINVALID, "feed body: %q is not a chunk's size: send the body chunked", clip(string(c.head)))
			}
			c.head, c.size, c.state = c.head[:0], n, 1
			if n == 0 {
				c.state = 3
			}
		case 1:
			take := p[:min(int64(len(p)), c.size)]
			p, c.size = p[len(take):], c.size-int64(len(take))
			for len(take) > 0 {
				part, rest, found := bytes.Cut(take, newline)
				c.data, take = append(c.data, part...), rest
				if len(c.data) > maxAckLine {
					return domain.Errorf(domain.EINVALID, "feed body: a line of more than %d bytes is not an acknowledgement", maxAckLine)
				}
				if found {
					if c.lines++; c.lines > maxAckLines {
						return errTooManyAckLines
					}
					if err := c.line(c.data); err != nil {
						return err
					}
					c.data = c.data[:0]
				}
			}
			if c.size == 0 {
				c.state = 2
			}
		case 2:
			// The CRLF that ends a chunk's data.
			if p[0] == '\n' {
				c.state = 0
			} else if p[0] != '\r' {
				return domain.Errorf(domain.EINVALID, "feed body: a chunk's data is not followed by CRLF")
			}
			p = p[1:]
		default:
			// The body ended: trailers, if any, are not read.
			if c.after += len(p); c.after > maxAfterBody {
				return domain.Errorf(domain.EINVALID, "feed body: more than %d bytes after its last chunk", maxAfterBody)
			}
			p = nil
		}
	}
	return nil
}

// connResponse is a whole answer (an error, a 204) written on a connection
// taken over: an http.ResponseWriter for writeError.
type connResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *connResponse) Header() http.Header { return c.header }

func (c *connResponse) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *connResponse) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}

// send writes the answer and its body, and ends the connection's use.
func (c *connResponse) send(conn net.Conn, timeout time.Duration) {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(c.status) + " " + http.StatusText(c.status) + "\r\n")
	c.header.Del("Transfer-Encoding")
	c.header.Set("Connection", "close")
	c.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if c.status != http.StatusNoContent {
		c.header.Set("Content-Length", strconv.Itoa(c.body.Len()))
	}
	c.header.Write(&b)
	b.WriteString("\r\n")
	b.Write(c.body.Bytes())
	conn.SetWriteDeadline(time.Now().Add(timeout))
	conn.Write(b.Bytes())
}
