// Package e2e runs real clusters on loopback: valkey-server, the flowhist
// binary (`flowhist serve`, one or two replicas) and Node-RED 4.1 processes
// (an admin and workers, each with its own userDir and port) using the
// node-red/ storage module, and checks what a user of the cluster would see.
//
// Node-RED is installed by `make deps-e2e` (e2e/nodered, pinned); a missing
// install fails the tests with the command that installs it.
package e2e_test
