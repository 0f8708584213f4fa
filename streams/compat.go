package streams

import (
	"context"
	"fmt"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// The old module (node-red-storage-valkey) reads plain keys under its
// keyPrefix, plus "nodered:packages" whatever the prefix. They cannot share
// a namespace's hash tag, so they are written as separate commands; each
// write is idempotent, and the state's "compat" field records the revision
// they were last written for, so a crash between the two is repaired.

// CompatWrite is one revision's worth of the old module's keys. Values are
// already encoded (JSON, or "gzip:"+base64); nil values are not written.
type CompatWrite struct {
	Namespace string
	Revision  domain.Revision
	// Prefix is the old module's keyPrefix, e.g. "nodered:".
	Prefix                                          string
	Flows, Credentials, Settings, Project, Packages []byte
	// Library holds entries by "<type>:<path>".
	Library map[string][]byte
	// Publish is sent after the writes, in order.
	Publish []Message
}

// Message is one PUBLISH.
type Message struct{ Channel, Payload string }

// CompatPackagesKey is where the old module keeps the package list,
// ignoring its prefix.
const CompatPackagesKey = "nodered:packages"

// WriteCompat writes w's keys, publishes its messages and records w.Revision
// as the namespace's compat revision.
//
// Errors: EUNAVAILABLE.
func (s *Store) WriteCompat(ctx context.Context, w CompatWrite) error {
	b := s.client.B()
	var cmds rueidis.Commands
	// Values go without a copy (flows are often megabytes); none is
	// modified after it was built.
	put := func(key string, v []byte) {
		if v != nil {
			cmds = append(cmds, b.Set().Key(key).Value(rueidis.BinaryString(v)).Build())
		}
	}
	put(w.Prefix+"flows", w.Flows)
	put(w.Prefix+"credentials", w.Credentials)
	put(w.Prefix+"settings", w.Settings)
	put(w.Prefix+"activeProject", w.Project)
	put(CompatPackagesKey, w.Packages)
	for k, v := range w.Library {
		put(w.Prefix+"library:"+k, v)
	}
	// Publish only once the keys are written: a worker reloading on the
	// message must read the new values.
	if err := s.doAll(ctx, cmds); err != nil {
		return fmt.Errorf("streams: write compat keys of %s at %d: %w", w.Namespace, w.Revision, err)
	}
	cmds = cmds[:0]
	for _, m := range w.Publish {
		cmds = append(cmds, b.Publish().Channel(m.Channel).Message(m.Payload).Build())
	}
	cmds = append(cmds, b.Hset().Key(stateKey(w.Namespace)).FieldValue().FieldValue("compat", w.Revision.String()).Build())
	if err := s.doAll(ctx, cmds); err != nil {
		return fmt.Errorf("streams: publish compat messages of %s at %d: %w", w.Namespace, w.Revision, err)
	}
	return nil
}

// doAll sends cmds in one round trip and returns the first error.
func (s *Store) doAll(ctx context.Context, cmds rueidis.Commands) error {
	if len(cmds) == 0 {
		return nil
	}
	for _, r := range s.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return classify(err)
		}
	}
	return nil
}
