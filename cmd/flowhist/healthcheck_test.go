package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	t.Run("Ready", func(t *testing.T) {
		code, out, errOut := run(t, "healthcheck", "--url", srv.URL+"/readyz")
		if code != 0 || out != "ok\n" {
			t.Fatalf("got exit %d, stdout %q, stderr %q; want 0 and ok", code, out, errOut)
		}
	})
	t.Run("NotReady", func(t *testing.T) {
		status = http.StatusServiceUnavailable
		code, _, errOut := run(t, "healthcheck", "--url", srv.URL+"/readyz")
		if code != exitUnavailable || !strings.Contains(errOut, "503") {
			t.Fatalf("got exit %d, stderr %q; want %d naming the 503", code, errOut, exitUnavailable)
		}
	})
	t.Run("Down", func(t *testing.T) {
		srv.Close()
		code, _, errOut := run(t, "healthcheck", "--url", srv.URL+"/readyz")
		if code != exitUnavailable || errOut == "" {
			t.Fatalf("got exit %d, stderr %q; want %d and a reason", code, errOut, exitUnavailable)
		}
	})
}
