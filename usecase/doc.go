// Package usecase is flowhist's application layer: one file per use case,
// in the sense of eventhorizon's command handlers. A use case takes a plain
// input (the namespace, who asks, the revision expected, the idempotency
// key, the parsed document), calls domain to decide what the event
// contains and streams to store it, and then does what follows every
// append (appended.go: wake the feed's followers, project the namespace).
//
// httpapi and the CLI call it; neither decides what a deploy, a settings
// save or a rollback does. A new capability (an identity and chain on
// every append, a rollout, a promotion, an approval) is one new file here.
package usecase
