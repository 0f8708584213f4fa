package main

import (
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
)

func TestProgress(t *testing.T) {
	t.Run("PlainLineEvery10Percent", func(t *testing.T) {
		var b strings.Builder
		p := newProgress(&b, "verify")
		for done := 1000; done <= 100000; done += 1000 {
			p.update(domain.Revision(done), 100000)
		}
		p.done()
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != 11 || lines[0] != "verify: 1000/100000 revisions (0%)" || lines[10] != "verify: 100000/100000 revisions (100%)" || strings.ContainsAny(b.String(), "\r\x1b#") {
			t.Fatalf("got %q, want eleven plain lines from 0%% to 100%%, nothing drawn", lines)
		}
	})
	t.Run("PastTheTotal", func(t *testing.T) {
		var b strings.Builder
		p := newProgress(&b, "replay")
		p.update(120, 100)
		if got, want := b.String(), "replay: 120/100 revisions (100%)\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("BarOnTerminal", func(t *testing.T) {
		var b strings.Builder
		p := &progress{w: &b, label: "replay", terminal: true, start: time.Now()}
		p.update(51200, 100000)
		p.update(100000, 100000)
		p.done()
		want := "\rreplay [###############---------------] 51200/100000\x1b[K" +
			"\rreplay [##############################] 100000/100000\x1b[K\n"
		if got := b.String(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("BarShowsRate", func(t *testing.T) {
		var b strings.Builder
		p := &progress{w: &b, label: "verify", terminal: true, start: time.Now().Add(-10 * time.Second)}
		p.update(50000, 100000)
		if got, want := b.String(), "\rverify [###############---------------] 50000/100000 5000/s\x1b[K"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}
