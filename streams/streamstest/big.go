package streamstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
)

// BigLog is a long log FillBig writes: every event goes through the store's
// real append path (the append script, its chain link and node index, the
// snapshots AppendFlows takes), so what it writes is a log flowhist wrote
// and verify accepts. Speed comes from writing the aggregates that do not
// depend on one another at once: one goroutine appends the flows events in
// order (each a patch against the one before), Writers goroutines append
// the settings, library and packages events beside it, and the client
// pipelines what they send.
type BigLog struct {
	// Events is how many events to append in all.
	Events int
	// Nodes is the flows document's size in nodes (default 200, ~100 KB).
	Nodes int
	// FlowsEvery makes every FlowsEvery-th event a flows one (a one-node
	// deploy, or every tenth a credentials save); default 5.
	FlowsEvery int
	// Writers is how many goroutines append the other events (default 8).
	Writers int
	// Step is how many events are appended between calls of At (default
	// Events).
	Step int
	// At, when set, is called with the number of events appended after
	// each Step, while nothing is being appended.
	At func(done int) error
}

// bigUsers are the actors of a BigLog's events, so that filters by actor
// match a share of them.
var bigUsers = []string{"alice", "bob", "carol", "dave"}

// FillBig appends l.Events events to ns, which must be empty or hold only
// what an earlier FillBig appended to it.
func FillBig(ctx context.Context, s *streams.Store, ns string, l BigLog) error {
	if l.Nodes <= 0 {
		l.Nodes = 200
	}
	if l.FlowsEvery <= 0 {
		l.FlowsEvery = 5
	}
	if l.Writers <= 0 {
		l.Writers = 8
	}
	if l.Step <= 0 {
		l.Step = l.Events
	}
	doc := domaintest.NewDoc(l.Nodes)
	cur, err := domain.ParseFlows(doc.Bytes())
	if err != nil {
		return err
	}
	actor := func(i int) domain.Origin {
		return domain.Origin{Actor: domain.Actor{User: bigUsers[i%len(bigUsers)], Channel: domain.ChannelNodeRED}}
	}
	if _, err := AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: cur, Origin: actor(0)}, ""); err != nil {
		return fmt.Errorf("event 1: %w", err)
	}
	flowsAt := 1 // flows events appended
	// flows appends n flows events, in order.
	flows := func(n int) error {
		for j := 0; j < n; j, flowsAt = j+1, flowsAt+1 {
			var err error
			if flowsAt%10 == 9 {
				_, err = AppendFlows(ctx, s, ns, domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: fmt.Appendf(nil, `{"$":"%064x"}`, flowsAt), Origin: actor(flowsAt)}, "")
			} else {
				cur, err = DeployNode(ctx, s, ns, doc, cur, (flowsAt*13)%l.Nodes, actor(flowsAt))
			}
			if err != nil {
				return fmt.Errorf("flows event %d: %w", flowsAt, err)
			}
		}
		return nil
	}
	// other appends the i-th event of the other aggregates.
	other := func(i int) error {
		e := domain.Event{Namespace: ns, Provenance: domain.Provenance{Actor: actor(i).Actor}}
		var payload any
		switch i % 3 {
		case 0:
			doc := fmt.Sprintf(`{"_credentialSecret":"s3cr3t","editorTheme":{"projects":{"enabled":false}},"n":%d}`, i)
			e.Type, e.Aggregate, e.SHA256 = domain.SettingsSaved, domain.AggregateSettings, domain.SHA256Hex([]byte(doc))
			payload = domain.SettingsPayload{Settings: []byte(doc)}
		case 1:
			entry := domain.LibraryEntry{Type: "functions", Path: fmt.Sprintf("team/f%d.js", i%50), Meta: json.RawMessage(`{"outputs":1}`), Body: fmt.Sprintf("return msg; // %d", i)}
			e.Type, e.Aggregate = domain.LibrarySaved, domain.LibraryAggregate(entry.Type, entry.Path)
			payload = domain.LibraryPayload{Entry: entry}
		default:
			e.Type, e.Aggregate = domain.PackagesChanged, domain.AggregatePackages
			payload = domain.PackagesPayload{Packages: []domain.Package{{Name: "node-red-contrib-x", Version: fmt.Sprintf("1.%d.0", i)}}}
		}
		b, err := domain.EncodePayload(payload)
		if err != nil {
			return err
		}
		e.Schema, e.Payload = domain.PayloadSchema(e.Type), b
		_, err = s.Append(ctx, streams.AppendRequest{Event: e})
		return err
	}
	for done := 1; done < l.Events; {
		n := min(l.Step, l.Events-done)
		if done == 1 && n == l.Step {
			n-- // the first step's first event is the whole document
		}
		nFlows := n / l.FlowsEvery
		nOther := n - nFlows
		errs := make(chan error, l.Writers+1)
		var wg sync.WaitGroup
		wg.Go(func() { errs <- flows(nFlows) })
		for w := range l.Writers {
			wg.Go(func() {
				for i := w; i < nOther; i += l.Writers {
					if err := other(done + i); err != nil {
						errs <- fmt.Errorf("event %d: %w", done+i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		done += n
		if l.At != nil {
			if err := l.At(done); err != nil {
				return err
			}
		}
	}
	return nil
}

// MemoryPerRevision appends deploys one-node deploys of a document of nodes
// nodes to ns (after deploying it whole) and returns the Valkey memory they
// cost, over the log, snapshots, blobs and node index (MEMORY USAGE of
// every key of ns but its projected state and library), per revision, and
// the document's size. c is a client of the store's Valkey. It is the design's measure of what full history
// costs; on a namespace that holds a long log already, it shows that the
// cost does not grow with the log.
func MemoryPerRevision(tb testing.TB, ctx context.Context, s *streams.Store, c rueidis.Client, ns string, nodes, deploys int) (perRev float64, docSize int) {
	tb.Helper()
	doc := domaintest.NewDoc(nodes)
	cur, err := domain.ParseFlows(doc.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: cur}, ""); err != nil {
		tb.Fatal(err)
	}
	keys := streams.KeysOf(ns)
	usage := func(key string) int64 {
		n, err := c.Do(ctx, c.B().MemoryUsage().Key(key).Samples(0).Build()).AsInt64()
		if err != nil {
			return 0 // a key that does not exist
		}
		return n
	}
	total := func() int64 {
		var sum int64
		for _, k := range namespaceKeys(tb, ctx, c, ns) {
			if k != keys.State && k != keys.Library {
				sum += usage(k)
			}
		}
		return sum
	}
	before := total()
	for i := 0; i < deploys; i++ {
		if cur, err = DeployNode(ctx, s, ns, doc, cur, (i*13)%nodes, domain.Origin{}); err != nil {
			tb.Fatal(err)
		}
	}
	if !bytes.Equal(cur.Bytes(), doc.Bytes()) {
		tb.Fatal("the document built node by node differs from the edited one")
	}
	return float64(total()-before) / float64(deploys), len(doc.Bytes())
}

// DeployNode touches node k of doc (whose flows, as last deployed to ns,
// are cur) and deploys the result as by from; it returns the new flows.
// The next document is built from the edited node alone: parsing the whole
// document at every deploy would make a long log's set-up the benchmark.
func DeployNode(ctx context.Context, s *streams.Store, ns string, doc *domaintest.Doc, cur *domain.Flows, k int, by domain.Origin) (*domain.Flows, error) {
	doc.Touch(k)
	one, err := domain.ParseFlows([]byte("[" + string(doc.Node(k)) + "]"))
	if err != nil {
		return nil, err
	}
	next, err := cur.Apply(domain.FlowsPatch{Upsert: one.Nodes()})
	if err != nil {
		return nil, err
	}
	if _, err := AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: next, Origin: by}, ""); err != nil {
		return nil, err
	}
	return next, nil
}

// CountEntries reads ns's whole log in pages of 1000 entries, decoding
// nothing (streams.Store.ReadEntries): the raw read that replay, verify and
// exports are measured against. It returns how many entries it read.
func CountEntries(ctx context.Context, s *streams.Store, ns string) (int, error) {
	n := 0
	for from := domain.Revision(1); ; {
		entries, err := s.ReadEntries(ctx, ns, from, 1000)
		if err != nil {
			return n, err
		}
		if len(entries) == 0 {
			return n, nil
		}
		n += len(entries)
		from = entries[len(entries)-1].Revision + 1
	}
}
