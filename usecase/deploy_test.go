package usecase_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/usecase"
)

func TestDeployConflict(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t)
	other, _ := mustStore(t) // a second replica with its own cache
	app, otherApp := mustApp(t, s), mustApp(t, other)
	ctx := testCtx(t)
	doc := domaintest.NewDoc(10)
	deploy := func(app *usecase.App, exp domain.Expected) (streams.FlowsResult, error) {
		return app.Deploy(ctx, usecase.Deploy{Request: req(ns, exp), Flows: doc.Flows(t)})
	}
	if _, err := deploy(app, domain.ExpectNone); err != nil {
		t.Fatal(err)
	}
	doc.Touch(3)
	if _, err := deploy(otherApp, domain.ExpectRevision(1)); err != nil {
		t.Fatalf("second replica, fresh expectation: %v", err)
	}
	doc.Touch(4)
	// s's cache still says revision 1.
	if _, err := deploy(app, domain.ExpectRevision(1)); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("got %v, want a conflict", err)
	}
	// With ExpectAny, s re-diffs against the real head.
	res, err := deploy(app, domain.ExpectAny)
	if err != nil {
		t.Fatal(err)
	}
	v, err := other.FlowsAt(ctx, ns, res.Revision)
	if err != nil || !bytes.Equal(v.Flows.Bytes(), doc.Bytes()) {
		t.Fatalf("after a re-diffed deploy the document does not rebuild (%v)", err)
	}
	if len(res.Summary.Changed) != 1 || res.Summary.Changed[0].ID != domaintest.ID(4) {
		t.Fatalf("got summary %+v, want node 4 changed only", res.Summary)
	}
}

// TestDeployAnyNeverConflicts has 80 unconditional deploys race on one
// namespace through two stores (two flowhist replicas): every one lands, and
// the revisions are gapless.
func TestDeployAnyNeverConflicts(t *testing.T) {
	t.Parallel()
	a, ns := mustStore(t)
	b, _ := mustStore(t)
	apps := []*usecase.App{mustApp(t, a), mustApp(t, b)}
	ctx := testCtx(t)
	const writers = 80
	docs := make([]*domain.Flows, writers)
	for i := range docs {
		d := domaintest.NewDoc(20)
		d.Touch(i % 20)
		d.Touch((i + 7) % 20)
		docs[i] = d.Flows(t)
	}
	revs := make([]domain.Revision, writers)
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		app := apps[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := app.Deploy(ctx, usecase.Deploy{Request: req(ns, domain.ExpectAny), Flows: docs[i]})
			revs[i], errs[i] = res.Revision, err
		}()
	}
	close(start)
	wg.Wait()
	seen := map[domain.Revision]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		if j, dup := seen[revs[i]]; dup {
			t.Fatalf("writers %d and %d both got revision %d", j, i, revs[i])
		}
		seen[revs[i]] = i
	}
	for rev := domain.Revision(1); rev <= writers; rev++ {
		if _, ok := seen[rev]; !ok {
			t.Fatalf("no writer got revision %d: revisions are not gapless", rev)
		}
	}
	// Each revision holds what its writer sent.
	for rev, i := range seen {
		v, err := a.FlowsAt(ctx, ns, rev)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := v.Flows.SHA256(), docs[i].SHA256(); got != want {
			t.Fatalf("revision %d: got flows %s, want writer %d's %s", rev, got, i, want)
		}
	}
}
