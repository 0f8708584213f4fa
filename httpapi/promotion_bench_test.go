package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
)

// BenchmarkPromoteVsDeploy measures a promotion against a plain deploy of
// the same document, in the same run: each iteration changes one node,
// deploys the document to one namespace (timed: deploy-us), deploys it to
// staging (not timed), and promotes staging onto prod (timed:
// promote-us). promote/deploy is the ratio of their means. A promotion
// reads the source's revision and the target's head, policy and overlay,
// merges and diffs, then appends one event as a deploy does.
func BenchmarkPromoteVsDeploy(b *testing.B) {
	ts := mustServer(b, httpapi.Config{})
	plain, staging, prod := randomNS(b), randomNS(b), randomNS(b)
	doc := domaintest.NewDoc(benchNodes)
	for _, ns := range []string{plain, staging, prod} {
		ts.ok(b, "PUT", path(ns, "/flows"), doc.Bytes(), nil, nil)
	}
	client := ts.Client()
	send := func(method, p string, body []byte) time.Duration {
		req, err := http.NewRequest(method, ts.URL+p, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+deploySecret)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		took := time.Since(start)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: got status %d (%v), want 200", method, p, res.StatusCode, err)
		}
		return took
	}
	promote := []byte(`{"from":"` + staging + `"}`)
	var deploy, promoted time.Duration
	b.SetBytes(int64(len(doc.Bytes())))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc.Touch(i % benchNodes)
		deploy += send("PUT", path(plain, "/flows"), doc.Bytes())
		send("PUT", path(staging, "/flows"), doc.Bytes())
		promoted += send("POST", path(prod, "/promotions"), promote)
	}
	b.ReportMetric(float64(deploy.Microseconds())/float64(b.N), "deploy-us")
	b.ReportMetric(float64(promoted.Microseconds())/float64(b.N), "promote-us")
	b.ReportMetric(float64(promoted)/float64(deploy), "promote/deploy")
}
