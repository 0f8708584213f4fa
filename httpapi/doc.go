// Package httpapi is flowhist's HTTP interface: storage for the Node-RED
// module, the worker feed, and (later) history, diff and rollback, under
// /v1/namespaces/{ns}/…, plus /healthz, /readyz and /metrics.
//
// It speaks in domain types and maps domain error codes to HTTP statuses in
// one place (error.go); every error answer is {"code": …, "message": …}.
package httpapi
