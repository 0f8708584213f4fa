// Package projector materializes each namespace's state from its log: the
// current flows, credentials, settings, library, packages and active
// project, and, for namespaces moving over from node-red-storage-valkey, the
// old module's keys and flows-updated message.
//
// It folds events with domain.State.Apply and writes each event's changes
// with a compare-and-set on the namespace's checkpoint (streams.SaveState),
// so an event is applied once however often it is delivered or replayed,
// and any number of projectors may run at once. Run follows the "projector"
// consumer group and acknowledges after the write; CatchUp and Rebuild are
// the deterministic entry points for start-up, tests and operators.
//
// It checks each event's link in the namespace's hash chain before folding
// it (chain.go): at a break it folds nothing further, marks the namespace
// (writes are refused, /readyz and a metric say so) and keeps serving the
// state folded before it. Verify recomputes the whole chain, and checks it
// against signed checkpoints when given them.
package projector
