package streams

// Key names. Every key of a namespace shares the hash tag {ns}.
func logKey(ns string) string       { return "fh:{" + ns + "}:log" }
func metaKey(ns string) string      { return "fh:{" + ns + "}:meta" }
func idemKey(ns, k string) string   { return "fh:{" + ns + "}:idem:" + k }
func snapsKey(ns string) string     { return "fh:{" + ns + "}:snaps" }
func blobKey(ns, sha string) string { return "fh:{" + ns + "}:blob:" + sha }
func stateKey(ns string) string     { return "fh:{" + ns + "}:state" }
func libKey(ns string) string       { return "fh:{" + ns + "}:lib" }
func sessionsKey(ns string) string  { return "fh:{" + ns + "}:sessions" }

// Node index (see nodeindex.go): the set of node ids indexed, and per node
// a sorted set of the revisions that changed it.
func nodesKey(ns string) string    { return "fh:{" + ns + "}:nodes" }
func nodeKey(ns, id string) string { return "fh:{" + ns + "}:node:" + id }

// workerStatusKey is the hash of ns's workers' reported package states.
func workerStatusKey(ns string) string { return "fh:{" + ns + "}:workers:packages" }

// Keys names a namespace's keys, for operators' reports ("key fh:{prod}:state
// is bad") and for tests that damage data on purpose. Everything else goes
// through the Store: no other package builds a key name.
type Keys struct {
	Log, Meta, State, Library string
}

// KeysOf returns ns's key names.
func KeysOf(ns string) Keys {
	return Keys{Log: logKey(ns), Meta: metaKey(ns), State: stateKey(ns), Library: libKey(ns)}
}

// namespacesKey is the one global key: the set of namespaces that have a
// log, so operators' tools and the projector can find them.
const namespacesKey = "fh:namespaces"

// entryID is the stream entry id of a revision.
func entryID(rev uint64) string { return formatUint(rev) + "-0" }
