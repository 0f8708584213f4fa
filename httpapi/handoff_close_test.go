package httpapi_test

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
)

// TestCloseWhileHandingOff: Server.Close while duplex feeds keep being
// handed off their connections. A handoff must not be added while Close
// waits for them (a WaitGroup reused before its Wait returned panics, and
// the race detector sees it): once closing, feeds are answered where they
// came. Rounds are few and bounded; run with -race.
func TestCloseWhileHandingOff(t *testing.T) {
	t.Parallel()
	for round := range 8 {
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var served atomic.Int64
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					conn, err := net.Dial("tcp", ts.Listener.Addr().String())
					if err != nil {
						return
					}
					conn.SetDeadline(time.Now().Add(5 * time.Second))
					fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n",
						feedURL(ns, fmt.Sprintf("w%d", g), 1, "0s"), readSecret)
					buf := make([]byte, 4096)
					for {
						if _, err := conn.Read(buf); err != nil {
							break
						}
					}
					conn.Close()
					served.Add(1)
				}
			}()
		}
		waitFor(t, "feeds handed off", func() bool { return served.Load() >= 16 })
		ts.api.Close()
		stop.Store(true)
		wg.Wait()
		t.Logf("round %d: %d feeds", round, served.Load())
	}
}
