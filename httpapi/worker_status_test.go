package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// workerWithPackages is one worker of GET …/workers with its package state.
type workerWithPackages struct {
	Worker   string `json:"worker"`
	Packages *struct {
		Revision domain.Revision  `json:"revision"`
		OK       bool             `json:"ok"`
		Module   string           `json:"module"`
		Version  string           `json:"version"`
		Error    string           `json:"error"`
		Packages []domain.Package `json:"packages"`
	} `json:"packages"`
}

func TestWorkerPackages(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	read := hdr{"Authorization": "Bearer " + readSecret}
	list := func(t *testing.T, ns string) map[string]workerWithPackages {
		t.Helper()
		var w struct {
			Workers []workerWithPackages `json:"workers"`
		}
		ts.ok(t, "GET", path(ns, "/workers"), nil, read, &w)
		out := map[string]workerWithPackages{}
		for _, x := range w.Workers {
			out[x.Worker] = x
		}
		return out
	}

	t.Run("ReportShownPerWorker", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		for _, w := range []string{"w1", "w2"} {
			ts.do(t, "GET", feedURL(ns, w, 1, "0s"), nil, read)
		}
		ts.ok(t, "PUT", path(ns, "/workers/w1/packages"), []byte(`{"revision":1,"ok":true,"packages":[{"name":"node-red-node-random","version":"0.4.0"}]}`), read, nil)
		ts.ok(t, "PUT", path(ns, "/workers/w2/packages"), []byte(`{"revision":1,"ok":false,"module":"node-red-node-random","version":"9.9.9","error":"install failed: Module not found","packages":[]}`), read, nil)
		got := list(t, ns)
		w1, w2 := got["w1"], got["w2"]
		if w1.Packages == nil || !w1.Packages.OK || w1.Packages.Revision != 1 || !slices.Equal(w1.Packages.Packages, []domain.Package{{Name: "node-red-node-random", Version: "0.4.0"}}) {
			t.Fatalf("got w1 %+v, want in step at revision 1 with node-red-node-random 0.4.0", w1.Packages)
		}
		if w2.Packages == nil || w2.Packages.OK || w2.Packages.Module != "node-red-node-random" || w2.Packages.Version != "9.9.9" || !strings.Contains(w2.Packages.Error, "Module not found") {
			t.Fatalf("got w2 %+v, want the failed module, version and error", w2.Packages)
		}
	})

	t.Run("NoReportNoState", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, read)
		if got := list(t, ns)["w1"]; got.Packages != nil {
			t.Fatalf("got package state %+v, want none", got.Packages)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		cases := []struct{ name, path, body string }{
			{"BadWorkerID", "/workers/has%20space/packages", `{"revision":1,"ok":true}`},
			{"NotAnObject", "/workers/w1/packages", `[1]`},
			{"UnknownField", "/workers/w1/packages", `{"revision":1,"ok":true,"token":"x"}`},
			{"OKWithError", "/workers/w1/packages", `{"revision":1,"ok":true,"error":"x"}`},
			{"ErrorTooLong", "/workers/w1/packages", `{"revision":1,"ok":false,"error":"` + strings.Repeat("x", 2001) + `"}`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, ts.do(t, "PUT", path(ns, c.path), []byte(c.body), read), http.StatusBadRequest, domain.EINVALID)
			})
		}
		ts.do(t, "GET", feedURL(ns, "w1", 0, "0s"), nil, read)
		if got := list(t, ns)["w1"]; got.Packages != nil {
			t.Fatalf("got package state %+v after bad reports, want none", got.Packages)
		}
	})

	t.Run("NoTokenUnauthorized", func(t *testing.T) {
		t.Parallel()
		r := ts.do(t, "PUT", path(randomNS(t), "/workers/w1/packages"), []byte(`{"revision":1,"ok":true}`), hdr{"Authorization": ""})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", r.status)
		}
	})

	// An upgrade in the admin's palette waits for a restart there:
	// Node-RED records it as pending_version, the version on its disk,
	// which is the one workers must install.
	t.Run("UpgradePendingRestartIsThePackageVersion", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		settings := []byte(`{"nodes":{"node-red-node-random":{"name":"node-red-node-random","version":"0.4.0","pending_version":"0.4.1","user":true,"nodes":{}}}}`)
		ts.ok(t, "PUT", path(ns, "/settings"), settings, nil, nil)
		events := ts.events(t, ns)
		last := events[len(events)-1]
		var p domain.PackagesPayload
		if err := domain.DecodePayload(last, &p); err != nil {
			t.Fatal(err)
		}
		if want := []domain.Package{{Name: "node-red-node-random", Version: "0.4.1"}}; last.Type != domain.PackagesChanged || !slices.Equal(p.Packages, want) {
			t.Fatalf("got %s %+v, want packages.changed %+v", last.Type, p.Packages, want)
		}
	})
}
