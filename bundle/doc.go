// Package bundle is flowhist's history bundle: a namespace's whole log as
// a file, written by export --history and read by import --from-export to
// replay it elsewhere. A bundle is JSON lines: a Header, then one Event per
// revision with the whole document of its aggregate after it, so that a
// reader needs no patches or snapshots, then the source's signed
// checkpoints that cover those revisions. Write folds the log as verify
// does; Reader checks each line as it reads it.
//
// The bundle carries the source's hash chain as it was (each event's link,
// the header's start, anchor and head) and its checkpoints, so that the
// links can be checked against signatures kept elsewhere. It cannot carry
// the proof of each link: the links cover the log's stored bytes (patches,
// compressed payloads), which a bundle does not hold. Importing a bundle
// starts a new chain in the target namespace.
package bundle
