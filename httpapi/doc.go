// Package httpapi is flowhist's HTTP interface: storage for the Node-RED
// module, the worker feed, history, diff and rollback, under
// /v1/namespaces/{ns}/…, plus /healthz, /readyz and /metrics.
//
// It translates HTTP into calls on domain rules and the stores, and nothing
// else: what an event contains is decided in domain. It maps domain error
// codes to HTTP statuses in one place (error.go); every error answer is
// {"code": …, "message": …}. Every request has a deadline (Config.RequestTimeout).
package httpapi
