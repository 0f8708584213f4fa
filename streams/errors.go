package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// This file is the one place that reads Valkey's replies and the client's
// errors and turns them into the domain's vocabulary. Nothing else in
// flowhist matches an error's text.

// classify returns err in the domain's vocabulary:
//   - Valkey unreachable, loading its data set, read-only (a demoted
//     primary), without a primary, out of memory, busy with a script,
//     unable to persist, refusing flowhist's credentials, or not answering
//     within the caller's deadline: EUNAVAILABLE, which the caller may
//     retry;
//   - the caller's context cancelled (an HTTP client that went away):
//     ECANCELED, which is nobody's failure;
//   - any other Valkey error reply: EINTERNAL (a bug: a command flowhist
//     should not have sent);
//   - a *domain.Error: unchanged.
//
// The client's error stays reachable with errors.Unwrap, for logs.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &domain.Error{Code: domain.ECANCELED, Message: "the request was cancelled before Valkey answered", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey did not answer within the deadline", Err: err}
	}
	rerr, ok := rueidis.IsRedisErr(err)
	if !ok {
		// Connection refused or reset, a closed client, a timed-out
		// connection: the client reports them all as non-reply errors.
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey is unreachable", Err: err}
	}
	switch {
	case rerr.IsLoading():
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey is loading its data set", Err: err}
	case rerr.IsClusterDown(), rerr.IsTryAgain():
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "the valkey cluster is not serving this slot right now", Err: err}
	}
	if _, moved := rerr.IsMoved(); moved {
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "the valkey cluster moved this namespace's slot (a failover or resharding)", Err: err}
	}
	if _, ask := rerr.IsAsk(); ask {
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "the valkey cluster is moving this namespace's slot (resharding)", Err: err}
	}
	switch replyPrefix(rerr) {
	case "READONLY":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey is a read-only replica (a failover may be in progress)", Err: err}
	case "MASTERDOWN":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey's primary is down (a failover may be in progress)", Err: err}
	case "OOM":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey is out of memory (maxmemory)", Err: err}
	case "BUSY":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey is busy running a script", Err: err}
	case "NOREPLICAS":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey has too few replicas to accept writes (min-replicas-to-write)", Err: err}
	case "MISCONF":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey refuses writes: it cannot persist them (MISCONF: check its disk and log)", Err: err}
	case "NOAUTH", "WRONGPASS":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey refuses flowhist's credentials: check valkey.username and valkey.password", Err: err}
	case "NOPERM":
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: "valkey's ACL does not let flowhist's user run a command it needs", Err: err}
	case "ESCHEMA":
		return &domain.Error{Code: domain.EINTERNAL, Message: strings.TrimPrefix(rerr.Error(), "ESCHEMA ") + "; upgrade flowhist", Err: err}
	case "EMIGRATE":
		return &domain.Error{Code: domain.EINTERNAL, Message: strings.TrimPrefix(rerr.Error(), "EMIGRATE ") + ": start this flowhist's serve, which migrates every namespace at start and anchors its hash chain", Err: err}
	}
	return &domain.Error{Code: domain.EINTERNAL, Message: "internal error", Err: err}
}

// replyPrefix returns an error reply's first word, its code by convention.
func replyPrefix(rerr *rueidis.RedisError) string {
	s := rerr.Error()
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// corrupt returns the ECORRUPT error for stored data that fails its own
// checks (a hash, a format), naming what; the operator's next step is
// flowhist verify.
func corrupt(ns, format string, args ...any) error {
	return domain.Errorf(domain.ECORRUPT, "namespace %s: %s: run flowhist verify", ns, fmt.Sprintf(format, args...))
}

// connectError classifies a failure to connect: Valkey answering with a
// refusal is a setting to fix, not an outage to wait out.
func connectError(err error) error {
	rerr, ok := rueidis.IsRedisErr(err)
	if !ok || rerr.IsLoading() {
		return classify(err)
	}
	switch replyPrefix(rerr) {
	case "NOAUTH", "WRONGPASS", "NOPERM":
		return &domain.Error{Code: domain.EUNAUTHORIZED, Message: "valkey refused the credentials (" + replyPrefix(rerr) + ")", Err: err}
	}
	// The two replies of a Sentinel set-up gone wrong.
	switch msg := rerr.Error(); {
	case strings.Contains(msg, "unknown command 'SENTINEL'"):
		return &domain.Error{Code: domain.EINVALID, Message: "an address given as a Sentinel's is a Valkey server's (it has no SENTINEL command)", Err: fmt.Errorf("%w: %w", ErrNotSentinel, err)}
	case strings.Contains(msg, "No such master"):
		return &domain.Error{Code: domain.EINVALID, Message: "the Sentinels monitor no primary of that name", Err: fmt.Errorf("%w: %w", ErrUnknownPrimary, err)}
	}
	return &domain.Error{Code: domain.EINVALID, Message: "valkey refused the connection: " + rerr.Error(), Err: err}
}

// ErrNotSentinel and ErrUnknownPrimary are what a connection through
// Sentinels fails with when an address listed is not a Sentinel, or when
// the Sentinels know no primary of the name given.
var (
	ErrNotSentinel    = errors.New("streams: not a Sentinel")
	ErrUnknownPrimary = errors.New("streams: the Sentinels know no such primary")
)

// isBusyGroup reports XGROUP CREATE of a group that exists.
func isBusyGroup(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	return ok && rerr.IsBusyGroup()
}

// isNoGroup reports a read or ack on a group (or log) that does not exist.
func isNoGroup(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	return ok && replyPrefix(rerr) == "NOGROUP"
}

// isNoSuchKey reports XINFO or XGROUP on a log that does not exist, which
// Valkey answers with "ERR no such key".
func isNoSuchKey(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	return ok && strings.Contains(rerr.Error(), "no such key")
}

// isGap reports the state script refusing a write that would skip
// revisions (another writer reset the state under this one).
func isGap(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	return ok && replyPrefix(rerr) == "EGAP"
}

// isNoScript reports EVALSHA of a script the server does not know yet.
func isNoScript(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	return ok && rerr.IsNoScript()
}

// ContextError is ctx's end as the domain error a Valkey call ended by it
// gives: EUNAVAILABLE past its deadline, ECANCELED when cancelled. For a
// caller that waits on ctx around the store's calls.
func ContextError(ctx context.Context) error { return classify(ctx.Err()) }
