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

// namespacesKey is the one global key: the set of namespaces that have a
// log, so operators' tools and the projector can find them.
const namespacesKey = "fh:namespaces"

// entryID is the stream entry id of a revision.
func entryID(rev uint64) string { return formatUint(rev) + "-0" }
