package streams

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"
)

// OldModule reads node-red-storage-valkey's keys under one prefix, as that
// module wrote them, on a Valkey of their own: the source of an import.
// Values are returned as stored (maybe "gzip:"+base64); a key that does not
// exist reads as nil.
type OldModule struct {
	client rueidis.Client
	prefix string
}

// NewOldModule reads the old module's keys under prefix through client,
// which the caller owns.
func NewOldModule(client rueidis.Client, prefix string) *OldModule {
	return &OldModule{client: client, prefix: prefix}
}

// Key returns the full name of the old module's key name ("flows",
// "credentials", "settings", "activeProject", "sessions",
// "library:<type>:<path>"), for messages.
func (o *OldModule) Key(name string) string { return o.prefix + name }

// Get returns the value of the old module's key name (see Key), nil if it
// does not exist.
//
// Errors: EUNAVAILABLE.
func (o *OldModule) Get(ctx context.Context, name string) ([]byte, error) {
	return o.get(ctx, o.Key(name))
}

// Packages returns the value of the old module's package list, which it
// keeps at CompatPackagesKey whatever its prefix; nil if none.
//
// Errors: EUNAVAILABLE.
func (o *OldModule) Packages(ctx context.Context) ([]byte, error) {
	return o.get(ctx, CompatPackagesKey)
}

func (o *OldModule) get(ctx context.Context, key string) ([]byte, error) {
	v, err := o.client.Do(ctx, o.client.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streams: read %s: %w", key, classify(err))
	}
	return v, nil
}

// Has reports whether the old module's key name exists.
//
// Errors: EUNAVAILABLE.
func (o *OldModule) Has(ctx context.Context, name string) (bool, error) {
	n, err := o.client.Do(ctx, o.client.B().Exists().Key(o.Key(name)).Build()).AsInt64()
	if err != nil {
		return false, fmt.Errorf("streams: read %s: %w", o.Key(name), classify(err))
	}
	return n > 0, nil
}

// Names lists, sorted, the names (as Key takes them) of the old module's
// keys that start with prefix ("library:" for the library; "" for all).
//
// Errors: EUNAVAILABLE.
func (o *OldModule) Names(ctx context.Context, prefix string) ([]string, error) {
	match := globEscape(o.prefix+prefix) + "*"
	var names []string
	for cursor := uint64(0); ; {
		e, err := o.client.Do(ctx, o.client.B().Scan().Cursor(cursor).Match(match).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return nil, fmt.Errorf("streams: list keys %s: %w", match, classify(err))
		}
		for _, k := range e.Elements {
			names = append(names, strings.TrimPrefix(k, o.prefix))
		}
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// globEscape escapes the glob characters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
