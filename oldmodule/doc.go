// Package oldmodule is the value format of node-red-storage-valkey, the
// module flowhist replaces (COMPAT.md §2): how each of its keys' values is
// written and read. The projector encodes with it to keep the old module's
// keys up to date; import decodes with it to bring an old cluster's keys
// in. The key names are streams' (streams.OldModule, streams.CompatWrite);
// this package knows only the bytes.
package oldmodule
