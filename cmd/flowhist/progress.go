package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// progress shows how far replay or verify is, on stderr: on a terminal a
// bar redrawn in place with the rate, elsewhere (a log file, CI, /dev/null)
// a plain line every 10% and nothing drawn.
type progress struct {
	w        io.Writer
	label    string
	terminal bool
	tenths   int // the last 10% step printed
	drawn    bool
	start    time.Time
}

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, terminal: isTerminal(w), tenths: -1, start: time.Now()}
}

const barWidth = 30

// update shows done of total revisions. Replay and verify call it after each
// page of events they fold.
func (p *progress) update(done, total domain.Revision) {
	if total == 0 {
		return
	}
	if p.terminal {
		filled := int(uint64(min(done, total)) * barWidth / uint64(total))
		rate := ""
		if s := time.Since(p.start).Seconds(); s >= 0.5 {
			rate = fmt.Sprintf(" %.0f/s", float64(done)/s)
		}
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d%s\x1b[K", p.label, strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), done, total, rate)
		p.drawn = true
		return
	}
	if t := int(uint64(min(done, total)) * 10 / uint64(total)); t > p.tenths {
		p.tenths = t
		fmt.Fprintf(p.w, "%s: %d/%d revisions (%d%%)\n", p.label, done, total, t*10)
	}
}

// done ends the bar's line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
