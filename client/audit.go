package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/flowhist/flowhist/domain"
)

// AuditQuery is a GET /v1/audit request: the events of many namespaces.
type AuditQuery struct {
	// Namespaces are names or globs (prod-*); empty: every namespace the
	// token covers.
	Namespaces []string
	// User, Token (the token that acted), Kind (comma-separated history
	// kinds), Node, Since and Until (RFC 3339) filter the events.
	User, Token, Kind, Node, Since, Until string
	// Cursor continues after an entry an earlier answer returned.
	Cursor string
	// Limit is the most entries; zero: the server's default (a page of
	// JSON, every event of NDJSON and CSV).
	Limit int
	// Format is json, ndjson or csv.
	Format string
	// Follow streams the events after the cursor and each new one as it
	// lands, until ctx ends (NDJSON or CSV).
	Follow bool
}

func (q AuditQuery) query() url.Values {
	v := url.Values{}
	for _, ns := range q.Namespaces {
		v.Add("ns", ns)
	}
	for k, s := range map[string]string{"user": q.User, "token": q.Token, "kind": q.Kind, "node": q.Node, "since": q.Since, "until": q.Until, "cursor": q.Cursor, "format": q.Format} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Follow {
		v.Set("follow", "1")
	}
	return v
}

// Audit asks GET /v1/audit and returns its answer's body to read as it
// arrives: the caller closes it. The request is bounded by ctx alone (an
// export or a follow may take as long as it takes); the client's
// namespace plays no part.
//
// Errors: those of an error answer (EINVALID, EUNAUTHORIZED, EFORBIDDEN,
// …), EUNAVAILABLE.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (io.ReadCloser, error) {
	u := c.base + "/v1/audit?" + q.query().Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("bad request to %s: %v", c.shown, err)}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, answerError(resp.StatusCode, data)
	}
	return resp.Body, nil
}
