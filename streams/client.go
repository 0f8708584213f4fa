package streams

import (
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
	return c, nil
}
