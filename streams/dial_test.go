package streams_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestDial(t *testing.T) {
	addr := valkeytest.Shared(t)
	t.Run("OK", func(t *testing.T) {
		c, err := streams.Dial(streams.DialConfig{Addr: addr, DB: 2, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); err != nil {
			t.Fatalf("got %v, want PONG", err)
		}
	})
	t.Run("ErrUnreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().String()
		l.Close()
		_, err = streams.Dial(streams.DialConfig{Addr: closed, DialTimeout: time.Second})
		if domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Fatalf("got %v, want unavailable", err)
		}
	})
	t.Run("ErrNotCluster", func(t *testing.T) {
		_, err := streams.Dial(streams.DialConfig{Addr: addr, Cluster: true, DialTimeout: time.Second})
		if domain.ErrorCode(err) != domain.EINVALID || !errors.Is(err, streams.ErrNotCluster) {
			t.Fatalf("got %v, want invalid wrapping ErrNotCluster", err)
		}
	})
	t.Run("ErrNotSentinel", func(t *testing.T) {
		_, err := streams.Dial(streams.DialConfig{Sentinel: streams.SentinelConfig{MasterName: "m", Addrs: []string{addr}}, DialTimeout: time.Second})
		if domain.ErrorCode(err) != domain.EINVALID || !errors.Is(err, streams.ErrNotSentinel) {
			t.Fatalf("got %v, want invalid wrapping ErrNotSentinel", err)
		}
	})
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"ErrCAFileMissing": filepath.Join(t.TempDir(), "none.pem"), "ErrCAFileNotPEM": notPEM} {
		t.Run(name, func(t *testing.T) {
			_, err := streams.Dial(streams.DialConfig{Addr: addr, TLS: true, TLSCAFile: file})
			if domain.ErrorCode(err) != domain.EINVALID || !errors.Is(err, streams.ErrTLSCAFile) {
				t.Fatalf("got %v, want invalid wrapping ErrTLSCAFile", err)
			}
		})
	}
	if got := (streams.DialConfig{Sentinel: streams.SentinelConfig{MasterName: "m", Addrs: []string{"a:1", "b:2"}}}).Where(); got != `primary "m" of the Sentinels at a:1,b:2` {
		t.Errorf("got Where %q", got)
	}
}

func TestSplitAddrs(t *testing.T) {
	got := streams.SplitAddrs([]string{"a:1, b:2", "", " c:3 ,"})
	if want := []string{"a:1", "b:2", "c:3"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
