// Package client is the Go client of flowhist's HTTP API: the CLI, import
// and the end-to-end tests talk to a flowhist server through it. It speaks
// for one namespace, sends the bearer token in a header only (never in a
// URL, a message or a log), decodes answers into httpapi's answer types,
// and turns every error answer into a *domain.Error with its code, message
// and, on a conflict, the current revision. Every request ends by a
// deadline (Config.Timeout; a feed request's wait on top).
package client
