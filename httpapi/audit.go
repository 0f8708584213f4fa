package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
	"go.uber.org/zap"
)

// GET /v1/audit: the events of many namespaces in one answer, for an
// auditor or a SIEM (usecase.Audit decides the order and the cursor).
//
// Query: ns (names or globs, repeated or comma-separated; default all the
// token covers), user, token, kind (comma-separated history kinds), node,
// since, until (RFC 3339), cursor, limit, format (json, ndjson, csv) and
// follow=1 (ndjson or csv: the events after the cursor, then each new one
// as it lands). json answers a page (limit default 100, at most 1000);
// ndjson and csv stream every event selected unless limit is given.

// auditStreamMax bounds one streaming audit answer (an export or a
// follow): a SIEM reconnects with the last line's cursor.
const auditStreamMax = 24 * time.Hour

// maxAuditPatterns bounds ns's names and globs: each is matched against
// every namespace.
const maxAuditPatterns = 100

// auditFormats are the answer formats of GET /v1/audit.
var auditFormats = map[string]string{
	"json":   "application/json",
	"ndjson": "application/x-ndjson",
	"csv":    "text/csv; charset=utf-8",
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if auditFormats[format] == "" {
		return domain.Errorf(domain.EINVALID, "format %q is not one of json, ndjson, csv", clip(format))
	}
	aq, err := s.auditQuery(r)
	if err != nil {
		return err
	}
	switch {
	case aq.Follow && format == "json":
		return domain.Errorf(domain.EINVALID, "follow streams lines: ask for format=ndjson or format=csv")
	case format == "json" && aq.Limit == 0:
		aq.Limit = 100
	case format == "json" && aq.Limit > 1000:
		return domain.Errorf(domain.EINVALID, "limit %d is over 1000 for format=json: use format=ndjson to export more", aq.Limit)
	}
	ctx := r.Context()
	if format == "json" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
		body := Audit{Entries: []AuditEntry{}}
		next, err := s.app.Audit(ctx, aq, func(e *domain.Event, cursor string) error {
			body.Entries = append(body.Entries, newAuditEntry(e, cursor))
			return nil
		})
		if err != nil {
			return err
		}
		body.NextCursor = next
		writeJSON(w, http.StatusOK, body)
		return nil
	}
	// A stream may last a day: it holds one of its token's feeds.
	if tok, _ := r.Context().Value(tokenKey).(*Token); tok != nil {
		l := s.limiters[tok]
		if !l.openFeed() {
			return tooMany(w, time.Second, "token %s has %d feed or audit streams open, its limit (auth.tokens[].limits.feeds)", tok.Name, l.limits.Feeds)
		}
		defer l.closeFeed()
	}
	// A stream has no deadline of its own: make sure Valkey answers
	// before starting one, so that an outage answers 503 at once.
	pctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	err = s.store.Ping(pctx)
	cancel()
	if err != nil {
		return err
	}
	out := &auditWriter{w: w, rc: http.NewResponseController(w), format: format, follow: aq.Follow, timeout: s.cfg.WriteTimeout}
	_, err = s.app.Audit(ctx, aq, out.write)
	if err == nil || !out.started {
		if err == nil {
			err = out.finish()
		}
		return err
	}
	// The answer is under way: say why it ends, in its own format.
	s.log.Warn("audit answer ended early", zap.String("format", format), zap.Error(err))
	out.fail(err)
	return nil
}

// auditQuery reads the filters of GET /v1/audit.
func (s *Server) auditQuery(r *http.Request) (usecase.AuditQuery, error) {
	q := r.URL.Query()
	f, err := parseHistoryFilter(r)
	if err != nil {
		return usecase.AuditQuery{}, err
	}
	aq := usecase.AuditQuery{Since: f.since, Until: f.until, Cursor: q.Get("cursor"), Follow: q.Get("follow") == "1" || q.Get("follow") == "true"}
	for _, v := range q["ns"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				aq.Namespaces = append(aq.Namespaces, p)
			}
		}
	}
	if len(aq.Namespaces) > maxAuditPatterns {
		return aq, domain.Errorf(domain.EINVALID, "ns names %d namespaces or globs, at most %d: use a glob such as prod-*", len(aq.Namespaces), maxAuditPatterns)
	}
	if v := q.Get("limit"); v != "" {
		if aq.Limit, err = strconv.Atoi(v); err != nil || aq.Limit < 1 {
			return aq, domain.Errorf(domain.EINVALID, "limit %q is not a positive whole number", clip(v))
		}
	}
	if tok, ok := r.Context().Value(tokenKey).(*Token); ok && tok != nil {
		aq.Allowed = tok.covers
	}
	token := q.Get("token")
	f.actor = q.Get("user")
	if f.actor == "" {
		f.actor = q.Get("actor")
	}
	aq.Actor = f.actor
	aq.Match = func(e *domain.Event) bool {
		return f.match(e) && (token == "" || provenanceToken(e.Provenance) == token)
	}
	return aq, nil
}

// provenanceToken is the name of the token that wrote an event ("" for an
// event from before tokens were recorded).
func provenanceToken(p domain.Provenance) string { return p.Token }

func newAuditEntry(e *domain.Event, cursor string) AuditEntry {
	return AuditEntry{Namespace: e.Namespace, Hash: e.Hash, Cursor: cursor, HistoryEntry: newEntry(e)}
}

// auditWriter streams an audit answer as NDJSON or CSV lines.
type auditWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	bw      *bufio.Writer
	cw      *csv.Writer
	enc     *json.Encoder
	format  string
	follow  bool
	timeout time.Duration
	started bool
}

// auditCSVHeader are the columns of format=csv.
var auditCSVHeader = []string{"cursor", "time", "namespace", "revision", "hash", "type", "aggregate", "aggregateRevision",
	"user", "channel", "token", "remoteAddr", "cause", "target", "reason", "correlationId", "sha256", "added", "changed", "removed"}

func (a *auditWriter) start() error {
	a.started = true
	a.w.Header().Set("Content-Type", auditFormats[a.format])
	a.w.Header().Set("Cache-Control", "no-store")
	a.w.WriteHeader(http.StatusOK)
	a.bw = bufio.NewWriterSize(a.w, 64<<10)
	if a.format == "csv" {
		a.cw = csv.NewWriter(a.bw)
		return a.cw.Write(auditCSVHeader)
	}
	a.enc = json.NewEncoder(a.bw)
	a.enc.SetEscapeHTML(false)
	return nil
}

func (a *auditWriter) write(e *domain.Event, cursor string) error {
	if !a.started {
		if err := a.start(); err != nil {
			return err
		}
	}
	// A client that stops reading must not hold the answer for ever.
	a.rc.SetWriteDeadline(time.Now().Add(a.timeout))
	var err error
	if a.cw != nil {
		err = a.cw.Write(auditCSVRow(e, cursor))
	} else {
		err = a.enc.Encode(newAuditEntry(e, cursor))
	}
	if err != nil {
		return err
	}
	if a.follow {
		return a.flush()
	}
	return nil
}

func (a *auditWriter) flush() error {
	if a.cw != nil {
		a.cw.Flush()
		if err := a.cw.Error(); err != nil {
			return err
		}
	}
	if err := a.bw.Flush(); err != nil {
		return err
	}
	return a.rc.Flush()
}

// finish ends a complete answer: an empty one has its header (and, for
// CSV, its column line) too.
func (a *auditWriter) finish() error {
	if !a.started {
		if err := a.start(); err != nil {
			return err
		}
	}
	return a.flush()
}

// fail ends an answer under way that could not be completed: NDJSON gets
// a last line {"error": {code, message}}; CSV, whose rows have no room
// for one, just ends (the client sees no final newline flush after it).
func (a *auditWriter) fail(err error) {
	if a.enc != nil {
		a.enc.Encode(struct {
			Error Error `json:"error"`
		}{Error{Code: domain.ErrorCode(err), Message: publicMessage(err)}})
	}
	a.flush()
}

// publicMessage is err's message as an answer may show it.
func publicMessage(err error) string {
	if domain.ErrorCode(err) == domain.EINTERNAL {
		return "internal error"
	}
	return domain.ErrorMessage(err)
}

// auditCSVRow is e's row. A cell a spreadsheet would read as a formula
// (=, +, -, @, tab, CR first) is prefixed with ', so an exported record
// cannot run in the auditor's spreadsheet.
func auditCSVRow(e *domain.Event, cursor string) []string {
	var added, changed, removed int
	if s := e.Summary; s != nil {
		added, changed, removed = len(s.Added), len(s.Changed), len(s.Removed)
	}
	target := ""
	if e.Target > 0 {
		target = e.Target.String()
	}
	row := []string{cursor, e.Time.UTC().Format(time.RFC3339Nano), e.Namespace, e.Revision.String(), e.Hash, string(e.Type), e.Aggregate, e.AggregateRevision.String(),
		e.Actor.User, e.Actor.Channel, provenanceToken(e.Provenance), e.Actor.RemoteAddr, e.Cause, target, e.Reason, e.CorrelationID, e.SHA256,
		strconv.Itoa(added), strconv.Itoa(changed), strconv.Itoa(removed)}
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}
