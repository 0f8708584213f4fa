package migrations

import (
	"context"
	"fmt"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Current is the keyspace schema version this flowhist reads and writes.
const Current = streams.SchemaVersion

// Check verifies the schema version of every namespace and records Current
// where none is recorded yet.
//
// Errors: EINTERNAL naming the namespace whose version is newer than
// Current, or older with no migration step; EUNAVAILABLE.
func Check(ctx context.Context, store *streams.Store) error {
	names, err := store.Namespaces(ctx)
	if err != nil {
		return err
	}
	for _, ns := range names {
		if err := CheckNamespace(ctx, store, ns); err != nil {
			return err
		}
	}
	return nil
}

// CheckNamespace is Check for one namespace.
func CheckNamespace(ctx context.Context, store *streams.Store, ns string) error {
	v, err := store.SchemaVersion(ctx, ns)
	if err != nil {
		return err
	}
	switch {
	case v > Current:
		return domain.Errorf(domain.EINTERNAL, "namespace %s has keyspace schema version %d, but this flowhist knows only up to %d: upgrade flowhist", ns, v, Current)
	case v < Current:
		// 0 (none recorded) and 1 have the same layout; 2 adds the hash
		// chain, anchored over what the log holds now.
		_, err := store.Anchor(ctx, ns)
		return err
	}
	return nil
}

// Describe returns a one-line description of a version, for the CLI.
func Describe(v int) string {
	switch v {
	case 1:
		return "1: one stream per namespace with revision entry ids, meta hash, snapshots and blobs"
	case 2:
		return "2: version 1 with every entry linked to its predecessor by sha256 (a hash chain), anchored over the log written before it"
	}
	return fmt.Sprintf("%d: unknown", v)
}
