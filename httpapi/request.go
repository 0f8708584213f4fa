package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/usecase"

	"github.com/flowhist/flowhist/domain"
)

// readBody reads r's body up to the configured limit.
//
// Errors: ETOOLARGE, EINVALID (empty).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	// Size the buffer from Content-Length when it is sane: growing it by
	// doubling copies a megabyte document several times.
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= s.cfg.MaxBody {
		buf.Grow(int(n) + 1)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	body := buf.Bytes()
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, domain.Errorf(domain.ETOOLARGE, "request body is larger than %d bytes (http.max_body)", s.cfg.MaxBody)
	}
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "reading the request body: %v", err)
	}
	if len(body) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "request body is empty")
	}
	return body, nil
}

// readJSONObject reads a body that must be one JSON object and returns
// the form to store (domain.CanonicalObject).
//
// Errors: ETOOLARGE, EINVALID.
func (s *Server) readJSONObject(w http.ResponseWriter, r *http.Request, what string) ([]byte, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return domain.CanonicalObject(what, body)
}

// expected reads If-Match: "N" (or N) as an exact expected revision; no
// header means any revision.
func expected(r *http.Request) (domain.Expected, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return domain.ExpectAny, nil
	}
	h = strings.TrimPrefix(h, "W/")
	rev, err := domain.ParseRevision(strings.Trim(h, `"`))
	if err != nil {
		return domain.Expected{}, domain.Errorf(domain.EINVALID, "If-Match %q is not a revision: send If-Match: \"<revision>\"", clip(h))
	}
	return domain.ExpectRevision(rev), nil
}

// request is what the use cases are asked with from r: its namespace,
// origin, If-Match expectation and Idempotency-Key.
func request(r *http.Request) (usecase.Request, error) {
	o, err := origin(r)
	if err != nil {
		return usecase.Request{}, err
	}
	exp, err := expected(r)
	if err != nil {
		return usecase.Request{}, err
	}
	return usecase.Request{Namespace: r.PathValue("ns"), Origin: o, Expected: exp, IdempotencyKey: r.Header.Get("Idempotency-Key")}, nil
}

// origin is who makes the request, for the events it appends: the token
// that authenticated it, and the user it acts as by the identity rule
// (domain.Attribute) from the Flowhist-User it names. A user or
// correlation id that is not printable text is refused (EINVALID); a user
// the token may not name, EFORBIDDEN.
func origin(r *http.Request) (domain.Origin, error) {
	user := r.Header.Get("Flowhist-User")
	if err := domain.ValidateLabel("Flowhist-User", user, 0); err != nil {
		return domain.Origin{}, err
	}
	var cred *domain.Credential
	if t, ok := r.Context().Value(tokenKey).(*Token); ok && t != nil {
		cred = &domain.Credential{Name: t.Name, AssertUsers: t.AssertUsers}
	}
	user, err := domain.Attribute(cred, user)
	if err != nil {
		return domain.Origin{}, err
	}
	claimed, err := claim(r)
	if err != nil {
		return domain.Origin{}, err
	}
	cid := r.Header.Get("Flowhist-Correlation-Id")
	if err := domain.ValidateLabel("Flowhist-Correlation-Id", cid, domain.MaxCorrelationID); err != nil {
		return domain.Origin{}, err
	}
	project := r.Header.Get("Flowhist-Project")
	if err := domain.ValidateLabel("Flowhist-Project", project, 255); err != nil {
		return domain.Origin{}, err
	}
	o := domain.Origin{Actor: actor(r, user), Claimed: claimed, CorrelationID: cid, Project: project}
	if cred != nil {
		o.Token = cred.Name
	}
	return o, nil
}

// claim reads who an import's source says acted (Flowhist-Claimed-User,
// -Token and -Channel). Any writer may send one: it is recorded as the
// source's claim beside the token that made it, never as the actor.
func claim(r *http.Request) (*domain.Claim, error) {
	c := domain.Claim{User: r.Header.Get("Flowhist-Claimed-User"), Token: r.Header.Get("Flowhist-Claimed-Token"), Channel: r.Header.Get("Flowhist-Claimed-Channel")}
	if c.IsZero() {
		return nil, nil
	}
	if err := c.Validate("Flowhist-Claimed"); err != nil {
		return nil, err
	}
	return &c, nil
}

// clip shortens a client's value for an error message (domain.Clip).
func clip(v string) string { return domain.Clip(v) }

func etag(rev domain.Revision) string { return `"` + rev.String() + `"` }

func errorsAs(err error, target **domain.Error) bool { return errors.As(err, target) }

// writeSaved answers a successful append: answer with what res says.
func writeSaved(w http.ResponseWriter, res streams.AppendResult, answer Saved) {
	answer.Revision, answer.AggregateRevision = res.Revision, res.AggregateRevision
	answer.Duplicate, answer.Durability = res.Duplicate, res.Durability
	w.Header().Set("ETag", etag(res.AggregateRevision))
	w.Header().Set("Flowhist-Revision", strconv.FormatUint(uint64(res.Revision), 10))
	writeJSON(w, http.StatusOK, answer)
}

// queryBool reads an optional flag parameter: 1 or true, 0 or false, absent
// is false.
func queryBool(q url.Values, name string) (bool, error) {
	switch v := q.Get(name); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, domain.Errorf(domain.EINVALID, "%s %q must be 1 or 0", name, clip(v))
	}
}
