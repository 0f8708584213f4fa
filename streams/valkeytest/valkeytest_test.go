package valkeytest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

func TestStart(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		if got := do(t, srv.Addr, "PING"); got != "+PONG" {
			t.Fatalf("PING: got %q, want +PONG", got)
		}
		if got := do(t, srv.Addr, "CONFIG", "GET", "appendonly"); got != "appendonly no" {
			t.Fatalf("CONFIG GET appendonly: got %q, want %q", got, "appendonly no")
		}
		if _, err := os.Stat(srv.Dir + "/" + valkeytest.LogFile); err != nil {
			t.Fatalf("log file: %v", err)
		}
	})
	t.Run("ServersOnDistinctPorts", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for range 4 {
			srv := valkeytest.Start(t)
			if seen[srv.Addr] {
				t.Fatalf("address %s handed out to two running servers", srv.Addr)
			}
			seen[srv.Addr] = true
			if got := do(t, srv.Addr, "PING"); got != "+PONG" {
				t.Fatalf("PING: got %q, want +PONG", got)
			}
		}
	})
	t.Run("BadArgumentFailsWithLog", func(t *testing.T) {
		t.Parallel()
		ft := &fatalTB{TB: t}
		ft.run(func() { valkeytest.Start(ft, "--no-such-directive", "1") })
		if !strings.Contains(ft.msg, "no-such-directive") || !strings.Contains(ft.msg, valkeytest.OutFile) {
			t.Fatalf("got failure %q, want it to quote the server's output naming the bad directive", ft.msg)
		}
	})
}

func TestRestart(t *testing.T) {
	t.Run("AfterStop", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		srv.Stop()
		srv.Stop() // idempotent
		if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
			t.Fatalf("%s still accepts connections after Stop", srv.Addr)
		}
		srv.Restart(t)
		if got := do(t, srv.Addr, "PING"); got != "+PONG" {
			t.Fatalf("PING after Restart: got %q, want +PONG", got)
		}
	})
	t.Run("AfterKill", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		addr := srv.Addr
		srv.Kill()
		srv.Kill()
		srv.Restart(t)
		if srv.Addr != addr {
			t.Fatalf("got address %s after Restart, want %s", srv.Addr, addr)
		}
		if got := do(t, srv.Addr, "PING"); got != "+PONG" {
			t.Fatalf("PING after Restart: got %q, want +PONG", got)
		}
	})
	t.Run("WhileRunning", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		srv.Restart(t)
		if got := do(t, srv.Addr, "PING"); got != "+PONG" {
			t.Fatalf("PING after Restart: got %q, want +PONG", got)
		}
	})
	t.Run("AppendOnlyDataSurvives", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, "--appendonly", "yes")
		if got := do(t, srv.Addr, "SET", "k", "v"); got != "+OK" {
			t.Fatalf("SET: got %q, want +OK", got)
		}
		srv.Stop()
		srv.Restart(t)
		if got := do(t, srv.Addr, "GET", "k"); got != "v" {
			t.Fatalf("GET after Restart: got %q, want %q", got, "v")
		}
	})
	t.Run("DefaultLosesData", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t)
		do(t, srv.Addr, "SET", "k", "v")
		srv.Stop()
		srv.Restart(t)
		if got := do(t, srv.Addr, "GET", "k"); got != "(nil)" {
			t.Fatalf("GET after Restart: got %q, want (nil): nothing should persist by default", got)
		}
	})
	t.Run("WithPassword", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, "--requirepass", "secret")
		srv.Restart(t)
		if got := do(t, srv.Addr, "PING"); !strings.HasPrefix(got, "-NOAUTH") {
			t.Fatalf("PING without AUTH: got %q, want -NOAUTH", got)
		}
	})
}

func TestShared(t *testing.T) {
	t.Run("OneServer", func(t *testing.T) {
		a, b := valkeytest.Shared(t), valkeytest.Shared(t)
		if a != b {
			t.Fatalf("got %s and %s, want one shared server", a, b)
		}
		if got := do(t, a, "PING"); got != "+PONG" {
			t.Fatalf("PING: got %q, want +PONG", got)
		}
	})
	t.Run("EnvOverride", func(t *testing.T) {
		t.Setenv(valkeytest.EnvAddr, "127.0.0.1:1")
		if got := valkeytest.Shared(t); got != "127.0.0.1:1" {
			t.Fatalf("got %s, want the address from %s", got, valkeytest.EnvAddr)
		}
	})
}

func TestBinary(t *testing.T) {
	t.Run("Found", func(t *testing.T) {
		if got := valkeytest.Binary(t, "valkey-server"); !strings.HasSuffix(got, "/valkey-server") {
			t.Fatalf("got %q, want a path to valkey-server", got)
		}
	})
	t.Run("MissingFails", func(t *testing.T) {
		ft := &fatalTB{TB: t}
		ft.run(func() { valkeytest.Binary(ft, "valkey-no-such-binary") })
		if !strings.Contains(ft.msg, "not found in PATH") || !strings.Contains(ft.msg, "make test") {
			t.Fatalf("got failure %q, want how to install it", ft.msg)
		}
	})
}

// fatalTB records Fatalf instead of failing the test, so tests can check
// the message a failing helper gives.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn on its own goroutine, as Fatalf ends it, and fails the test
// if fn returned without calling Fatalf.
func (f *fatalTB) run(fn func()) {
	f.TB.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	if f.msg == "" {
		f.TB.Fatal("got no failure, want Fatalf")
	}
}

// do sends one command over a raw RESP connection and returns the reply: a
// simple string or error as sent ("+OK", "-ERR …"), an integer as ":n", a
// bulk string's contents, "(nil)", or an array's elements joined by spaces.
func do(tb testing.TB, addr string, args ...string) string {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, req); err != nil {
		tb.Fatalf("%s: %v", args[0], err)
	}
	reply, err := readReply(bufio.NewReader(conn))
	if err != nil {
		tb.Fatalf("%s: %v", args[0], err)
	}
	return reply
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply line")
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$', '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad reply %q", line)
		}
		if n < 0 {
			return "(nil)", nil
		}
		if line[0] == '$' {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return "", err
			}
			return string(buf[:n]), nil
		}
		elems := make([]string, n)
		for i := range elems {
			if elems[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return strings.Join(elems, " "), nil
	}
	return "", fmt.Errorf("bad reply %q", line)
}
