package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/feed"
	"go.uber.org/zap"
)

// A duplex feed (POST …/feed over HTTP/1.1) waits for hours on a
// connection that carries a line now and then. Served by net/http it holds
// the connection's 4 KiB read and 4 KiB write buffers, the answer's 2 KiB
// one and the handler's goroutine, whose stack (the whole middleware chain)
// is 8 KiB or more, for as long as it waits: ~45 KiB a waiting worker
// (BenchmarkFeedWaiterMemory). So once the request is parsed, authorised
// and joined, the handler takes the connection over (Hijack) and returns,
// and two goroutines of its own, started shallow, serve it: one follows the
// feed and writes its lines as HTTP/1.1 chunks straight to the connection,
// the other reads the acknowledgements off the request's chunked body
// through a small buffer. The wire is the same as net/http's.

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
	header := w.Header().Clone()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	// What the client sent past the request's head (acknowledgements
	// already), then the connection.
	var body io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		body = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	release := slot.take()
	// Not r itself: its body holds the connection's read buffer.
	req := &http.Request{Method: r.Method, URL: &url.URL{Path: r.URL.Path}}
	s.handoffs.Add(1)
	go func() {
		// Only this frame and Follow's are on the stack while the worker
		// waits: it stays small (4 KiB once the GC shrinks it).
		c := s.startConnFeed(conn, body, header, f)
		err := s.feed.Follow(c.ctx, f.Request, c.out, c.end.C)
		s.endConnFeed(c, req, f, err)
		release()
		s.handoffs.Done()
	}()
	return true
}

// connFeed is a duplex feed served off its connection.
type connFeed struct {
	conn   net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	out    *connAnswer
	end    *time.Timer
	acked  chan struct{} // closed when the acknowledgement reader is done
	ackErr error         // what ended it, if the body did
}

// startConnFeed starts reading acknowledgements off body.
func (s *Server) startConnFeed(conn net.Conn, body io.Reader, header http.Header, f feedRequest) *connFeed {
	ctx, cancel := context.WithCancel(context.Background())
	c := &connFeed{conn: conn, ctx: ctx, cancel: cancel, acked: make(chan struct{}),
		out: &connAnswer{conn: conn, header: header, timeout: s.cfg.WriteTimeout}}
	// The body's read deadline lasts as long as the answer.
	conn.SetReadDeadline(time.Now().Add(f.wait + s.cfg.RequestTimeout))
	go func() {
		defer close(c.acked)
		br := bufio.NewReaderSize(body, 64) // a chunk's size line, then an ack line at a time
		if err := s.applyAcks(ctx, httputil.NewChunkedReader(br), f); err != nil && ctx.Err() == nil {
			s.log.Debug("feed stream ends: an acknowledgement on its body failed", zap.String("ns", f.Namespace), zap.String("worker", f.Worker), zap.Error(err))
			c.ackErr = err
			cancel()
		}
	}()
	c.end = time.NewTimer(f.wait)
	return c
}

// endConnFeed ends the answer after Follow returned err, and closes the
// connection.
func (s *Server) endConnFeed(c *connFeed, r *http.Request, f feedRequest, err error) {
	defer c.conn.Close()
	c.end.Stop()
	c.cancel()
	c.conn.SetReadDeadline(time.Now()) // the reader stops: the answer is over
	<-c.acked
	out := c.out
	switch {
	case c.ackErr != nil && !out.started:
		err = c.ackErr
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
		s.writeError(cr, r, err)
		cr.send(c.conn, s.cfg.WriteTimeout)
	case out.started:
		out.write([]byte("0\r\n\r\n"))
	default:
		cr := &connResponse{header: out.header, status: http.StatusNoContent}
		cr.send(c.conn, s.cfg.WriteTimeout)
	}
}

// connAnswer writes a stream's news as HTTP/1.1 chunks on a connection
// taken over, the answer's head before the first.
type connAnswer struct {
	conn    net.Conn
	header  http.Header
	timeout time.Duration
	started bool
	failed  error
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
	a.conn.SetWriteDeadline(time.Now().Add(a.timeout))
	_, a.failed = a.conn.Write(b)
	return a.failed
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
