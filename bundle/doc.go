// Package bundle is flowhist's history bundle: a namespace's whole log as
// a file, written by export --history and read by import --from-export to
// replay it elsewhere. A bundle is JSON lines: a Header, then one Event per
// revision with the whole document of its aggregate after it, so that a
// reader needs no patches or snapshots. Write folds the log as verify
// does; Reader checks each line as it reads it.
package bundle
