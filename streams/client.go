package streams

import (
	"context"

	"github.com/redis/rueidis"
)

// NewClient connects to Valkey with opt and the two settings the store
// depends on: no client-side caching (every read must see the latest
// append), and no retries of read commands after a connection error. The
// client's retries last until the caller's context ends, so with Valkey down
// a request would hang for its whole deadline instead of answering
// "unavailable" at once; flowhist's callers retry themselves (workers, the
// projector, Node-RED's module).
//
// Errors: EUNAVAILABLE (unreachable or loading: worth waiting for),
// EUNAUTHORIZED (Valkey refused the credentials), EINVALID (Valkey refused
// another setting, such as the database number).
func NewClient(opt rueidis.ClientOption) (rueidis.Client, error) {
	opt.DisableCache = true
	opt.DisableRetry = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, connectError(err)
	}
	return deadlineClient{c}, nil
}

// deadlineClient ends every call by its context's deadline. rueidis does
// not, in one case: while one call reconnects the shared connection, the
// others wait for it without their contexts, and its handshake is bounded
// by that one call's deadline. With Valkey hung a request could then take
// twice its deadline (seen: 2 s against 1 s in TestValkeyFaults/Hung).
// A call whose context ends first is answered with the context's error;
// rueidis finishes it in the background.
type deadlineClient struct{ rueidis.Client }

func (c deadlineClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if ctx.Done() == nil {
		return c.Client.Do(ctx, cmd)
	}
	done := make(chan rueidis.RedisResult, 1)
	go func() { done <- c.Client.Do(ctx, cmd) }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		return rueidis.NewErrorResult(ctx.Err())
	}
}

func (c deadlineClient) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if ctx.Done() == nil {
		return c.Client.DoMulti(ctx, multi...)
	}
	done := make(chan []rueidis.RedisResult, 1)
	go func() { done <- c.Client.DoMulti(ctx, multi...) }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		out := make([]rueidis.RedisResult, len(multi))
		for i := range out {
			out[i] = rueidis.NewErrorResult(ctx.Err())
		}
		return out
	}
}
