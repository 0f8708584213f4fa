// Package httpapi is flowhist's HTTP interface: storage for the Node-RED
// module, the worker feed, history, diff and rollback, under
// /v1/namespaces/{ns}/…, plus /healthz, /readyz and /metrics.
//
// It translates HTTP and nothing else: a handler parses the request,
// authorises it, calls one use case (package usecase: a deploy, a settings
// save, a rollback …) or the feed (package feed), or reads the state and the
// log, and answers. What an event contains is decided in domain, what a
// write does and what follows it in usecase. It maps domain error codes to
// HTTP statuses in one place (error.go); every error answer is
// {"code": …, "message": …}, every answer a type of answers.go. Every
// request has a deadline (Config.RequestTimeout).
package httpapi
