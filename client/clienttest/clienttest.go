// Package clienttest starts a real flowhist API for tests of what talks to
// it (the client, the CLI, import): the store, the projector and httpapi
// over the shared valkey-server of valkeytest, served by httptest.
package clienttest

import (
	"net/http/httptest"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
)

// Server is a flowhist API server and what it runs on. tb's cleanup stops
// it.
type Server struct {
	*httptest.Server
	// Addr is the valkey-server's address (Start only).
	Addr string
	// Valkey is a connection of the server's own, for tests that reach
	// under the API.
	Valkey    rueidis.Client
	Store     *streams.Store
	Projector *projector.Projector
}

// Start starts a server with cfg over the shared valkey-server (the test
// binary's TestMain runs valkeytest.Main).
func Start(tb testing.TB, cfg httpapi.Config) *Server {
	tb.Helper()
	addr := valkeytest.Shared(tb)
	vc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(vc.Close)
	s := StartOn(tb, vc, streams.Config{}, cfg)
	s.Addr = addr
	return s
}

// StartOn starts a server with cfg on a store of vc with storeCfg; the
// caller closes vc after tb's cleanup stopped the server.
func StartOn(tb testing.TB, vc rueidis.Client, storeCfg streams.Config, cfg httpapi.Config) *Server {
	tb.Helper()
	store, err := streams.New(vc, storeCfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	proj, err := projector.New(store, projector.Config{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	api, err := httpapi.New(store, proj, cfg, nil, prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	tb.Cleanup(srv.Close)
	tb.Cleanup(api.Close)
	return &Server{Server: srv, Valkey: vc, Store: store, Projector: proj}
}
