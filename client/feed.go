package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// FeedQuery is a worker's feed request.
type FeedQuery struct {
	Worker string
	// After is where the worker's consumer group begins if it is new: the
	// revision the worker restored.
	After domain.Revision
	// AfterID is the id of the event at After ("": not named); the server
	// answers a reset when its log does not hold it.
	AfterID string
	// Ack acknowledges up to this revision before reading (0: nothing);
	// AckID is its event's id, as the news named it.
	Ack   domain.Revision
	AckID string
	// Wait is how long the server waits for news (0: its default); the
	// server bounds it by its own maximum.
	Wait time.Duration
	// Ring is the worker's ring ("": none named).
	Ring string
}

func (f FeedQuery) query() url.Values {
	q := url.Values{"worker": {f.Worker}, "after": {f.After.String()}}
	if f.AfterID != "" {
		q.Set("afterId", f.AfterID)
	}
	if f.Ack != 0 {
		q.Set("ack", f.Ack.String())
	}
	if f.AckID != "" {
		q.Set("ackId", f.AckID)
	}
	if f.Wait != 0 {
		q.Set("wait", f.Wait.String())
	}
	if f.Ring != "" {
		q.Set("ring", f.Ring)
	}
	return q
}

// Feed long-polls the worker's feed: the news delivered (ok true), or ok
// false when the wait ended with none. Errors: EINVALID, EUNAUTHORIZED,
// EFORBIDDEN, EUNAVAILABLE.
func (c *Client) Feed(ctx context.Context, f FeedQuery) (news httpapi.FeedNews, ok bool, err error) {
	a, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/feed", Query: f.query(), wait: f.Wait})
	if err != nil || a.Status == http.StatusNoContent {
		return news, false, err
	}
	return news, true, c.decode("/feed", a.Body, &news)
}

// FeedStream follows the worker's streamed feed (stream=1), calling
// onNews with each burst of news in order, until the wait ends (nil), ctx
// ends, or onNews returns an error (which FeedStream returns). opened, if
// not nil, is called once the server has answered. Errors: as Feed.
func (c *Client) FeedStream(ctx context.Context, f FeedQuery, opened func(), onNews func(httpapi.FeedNews) error) error {
	q := f.query()
	q.Set("stream", "1")
	ctx, cancel := context.WithTimeout(ctx, c.timeout+f.Wait)
	defer cancel()
	resp, err := c.send(ctx, Request{Method: http.MethodGet, Path: "/feed", Query: q})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var buf [64 << 10]byte
		n, _ := resp.Body.Read(buf[:])
		return answerError(resp.StatusCode, buf[:n])
	}
	if opened != nil {
		opened()
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var news httpapi.FeedNews
		if err := c.decode("/feed", sc.Bytes(), &news); err != nil {
			return err
		}
		if err := onNews(news); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("the feed of flowhist at %s ended: %v", c.shown, context.Cause(ctx)), Err: err}
		}
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("reading the feed of flowhist at %s: %v", c.shown, err), Err: err}
	}
	return nil
}

// Ack acknowledges everything delivered to worker up to rev, whose event
// is id ("": not named). Errors: EINVALID, ECONFLICT (the server's log
// does not hold that event: the worker reloads the head), EUNAUTHORIZED,
// EFORBIDDEN, EUNAVAILABLE.
func (c *Client) Ack(ctx context.Context, worker string, rev domain.Revision, id string) (httpapi.Acked, error) {
	body, _ := json.Marshal(struct {
		Worker   string          `json:"worker"`
		Revision domain.Revision `json:"revision"`
		ID       string          `json:"id,omitempty"`
	}{worker, rev, id})
	var a httpapi.Acked
	return a, c.call(ctx, Request{Method: http.MethodPost, Path: "/feed/ack", Body: body}, &a)
}

// Workers lists the workers following the namespace and how far behind
// they are.
func (c *Client) Workers(ctx context.Context) (httpapi.Workers, error) {
	var w httpapi.Workers
	return w, c.get(ctx, "/workers", nil, &w)
}

// PutWorkerPackages reports a worker's installed modules (Updated is set
// by the server). Errors: EINVALID, EUNAUTHORIZED, EFORBIDDEN,
// EUNAVAILABLE.
func (c *Client) PutWorkerPackages(ctx context.Context, worker string, rep httpapi.WorkerPackages) (httpapi.WorkerPackagesSaved, error) {
	body, err := json.Marshal(rep)
	if err != nil {
		return httpapi.WorkerPackagesSaved{}, &domain.Error{Code: domain.EINVALID, Message: "encoding the package report: " + err.Error(), Err: err}
	}
	var s httpapi.WorkerPackagesSaved
	return s, c.call(ctx, Request{Method: http.MethodPut, Path: "/workers/" + url.PathEscape(worker) + "/packages", Body: body}, &s)
}
