package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/migrations"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/usecase"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/rueidis"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.uber.org/zap"
)

func (m *Main) serveCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API for Node-RED, workers and operators, and run the projector",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := readServeConfig(v)
			if err != nil {
				return err
			}
			if err := checkTokens(cfg); err != nil {
				return err
			}
			return m.serve(cmd.Context(), cfg)
		},
	}
	addFlags(cmd.Flags(), "listen")
	addValkeyFlags(cmd.Flags())
	return cmd
}

// goMemoryMetrics adds to the Go collector's defaults where the process's
// memory goes (go_memory_classes_*: heap objects, free and released heap,
// stacks, the runtime's metadata) and the GC's live heap and goal: what
// tells GC headroom from memory in use when resident memory grows.
var goMemoryMetrics = collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
	Matcher: regexp.MustCompile(`^/(memory/classes/.*|gc/heap/(live|goal):bytes)$`)})

// serve runs until ctx is done, then shuts down gracefully: it stops
// accepting, ends feed waits, drains requests in flight and stops the
// projector.
func (m *Main) serve(ctx context.Context, cfg serveConfig) error {
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer log.Sync()
	limit, err := parseMemoryLimit(cfg.MemoryLimit)
	if err != nil {
		return err
	}
	defer applyMemoryLimit(limit, log)()
	client, err := waitForValkey(ctx, cfg.Valkey, log)
	if err != nil {
		return err
	}
	defer client.Close()
	store, err := streams.New(client, cfg.Streams, log.Named("streams"))
	if err != nil {
		return &domain.Error{Code: domain.EINVALID, Message: err.Error()}
	}
	proj, err := projector.New(store, cfg.Projector, log.Named("projector"))
	if err != nil {
		return &domain.Error{Code: domain.EINVALID, Message: err.Error()}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(goMemoryMetrics), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	api, err := httpapi.New(store, proj, cfg.API, log.Named("http"), reg)
	if err != nil {
		return &domain.Error{Code: domain.EINVALID, Message: err.Error()}
	}
	var replicas *replicaWatch
	if cfg.Valkey.Sentinel.MasterName != "" {
		replicas = newReplicaWatch(cfg, store, api, log)
		if err := replicas.check(ctx); err != nil {
			return err
		}
	}
	signer, err := loadSigner(cfg)
	if err != nil {
		return err
	}
	if cfg.API.AuthDisabled {
		log.Warn("authentication is disabled (auth.disabled): anyone who reaches " + cfg.Listen + " can read and deploy flows; use this on a laptop only")
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("listen on %s: %v (set FLOWHIST_LISTEN or --listen)", cfg.Listen, err)}
	}
	var tc *tls.Config
	scheme := "http"
	if cfg.TLS.enabled() {
		if tc, err = cfg.TLS.serverTLS(log.Named("tls")); err != nil {
			ln.Close()
			return err
		}
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		// No WriteTimeout here: the worker feed streams for up to
		// http.feed_max_wait; each route sets its own write deadline.
		ErrorLog:  zap.NewStdLog(log.Named("http")),
		TLSConfig: tc,
	}
	fmt.Fprintf(m.Stdout, "flowhist %s listening on %s://%s\n", version, scheme, ln.Addr())
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("valkey", cfg.Valkey.Addr))

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		api.MonitorValkey(bg, time.Second)
	}()
	refused := make(chan error, 1)
	go func() {
		defer wg.Done()
		// Ready once every namespace's schema is checked and its state
		// caught up with its log. Valkey may be loading or away at start:
		// that is retried (and said once); a schema newer than this
		// binary is not.
		failing := false
		for bg.Err() == nil {
			err := migrations.Check(bg, store)
			if err == nil {
				err = proj.CatchUp(bg)
			}
			if err == nil {
				api.SetReady(true)
				break
			}
			if domain.ErrorCode(err) != domain.EUNAVAILABLE {
				refused <- err
				return
			}
			if !failing && bg.Err() == nil {
				failing = true
				log.Warn("checking schemas and catching up projections at start failed; retrying every second", zap.Error(err))
			}
			sleep(bg, time.Second)
		}
		proj.Run(bg)
	}()
	go func() {
		defer wg.Done()
		for {
			if _, err := api.ReapIdleWorkers(bg); err != nil && bg.Err() == nil {
				log.Warn("reaping idle worker groups failed", zap.Error(err))
			}
			if !sleep(bg, cfg.ReapInterval) {
				return
			}
		}
	}()
	if replicas != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas.run(bg, 2*time.Second)
		}()
	}
	if signer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signCheckpoints(bg, usecase.New(store, proj, nil, usecase.Config{}, log, usecase.Metrics{}), signer, cfg.CheckpointEvery, log.Named("audit"))
		}()
	}
	served := make(chan error, 1)
	go func() {
		defer wg.Done()
		if tc != nil {
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()

	select {
	case err = <-served:
	case err = <-refused:
		srv.Close()
	case <-ctx.Done():
		log.Info("shutting down")
		api.SetReady(false)
		api.Close() // feed waiters answer "no news" now
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	api.Close()
	stopBG()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// waitForValkey connects to Valkey, waiting (and saying so once) while it
// cannot be reached: in a container, flowhist may start before it.
func waitForValkey(ctx context.Context, c streams.DialConfig, log *zap.Logger) (rueidis.Client, error) {
	for waiting := false; ; waiting = true {
		client, err := newValkeyClient(c)
		if err == nil || domain.ErrorCode(err) != domain.EUNAVAILABLE {
			if waiting && err == nil {
				log.Info("connected to valkey", zap.String("addr", c.Addr))
			}
			return client, err
		}
		if !waiting {
			log.Warn("waiting for valkey", zap.String("addr", c.Addr), zap.Error(err))
		}
		if !sleep(ctx, time.Second) {
			return nil, err
		}
	}
}

// sleep waits d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
