// Package userdir is the file layouts flowhist shares with Node-RED: a
// Node-RED userDir as its file storage keeps it (the flow file and its
// _cred file, the .config.*.json files, the lib/ library), which import
// --from-userdir reads, and export --dir's layout of one file per tab and
// subflow, which import --from-export reads back. Each layout is written
// and read here, with a round-trip test; validating what is read against
// the API's rules is the caller's.
package userdir
