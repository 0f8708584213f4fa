package bundle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/flowhist/flowhist/domain"
)

// Reader reads a bundle line by line.
type Reader struct {
	// Header is the bundle's first line.
	Header Header
	// Checkpoints are the source's signed checkpoints read so far (they
	// follow the events: all of them once Next returned io.EOF).
	Checkpoints []json.RawMessage
	name        string
	sc          *bufio.Scanner
	line        int
	last        domain.Revision
}

// NewReader reads and checks the header of the bundle r; name (a file's
// path) starts every error message. Errors: EINVALID.
func NewReader(r io.Reader, name string) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", name, err)
		}
		return nil, domain.Errorf(domain.EINVALID, "%s: empty", name)
	}
	br := &Reader{name: name, sc: sc, line: 1}
	h := &br.Header
	if err := json.Unmarshal(sc.Bytes(), h); err != nil || h.Format == 0 || h.Namespace == "" {
		return nil, domain.Errorf(domain.EINVALID, "%s line 1: not a flowhist history bundle header", name)
	}
	if h.Format != Format {
		return nil, domain.Errorf(domain.EINVALID, "%s line 1: bundle format %d is not readable by this version (reads %d)", name, h.Format, Format)
	}
	return br, nil
}

// Where names the line Next returned last ("path line 3"), for messages
// about its content.
func (r *Reader) Where() string { return fmt.Sprintf("%s line %d", r.name, r.line) }

// Next returns the next event, io.EOF after the last. It checks that each
// line is an event, that revisions increase, that a library or project
// event has its document, and that no name in it leads outside where it
// is written (a project name with a separator, a library path with "..").
// Errors: EINVALID.
func (r *Reader) Next() (Event, error) {
	for r.sc.Scan() {
		r.line++
		if len(bytes.TrimSpace(r.sc.Bytes())) == 0 {
			continue
		}
		if c, ok := checkpointLine(r.sc.Bytes()); ok {
			r.Checkpoints = append(r.Checkpoints, c)
			continue
		}
		var e Event
		if err := json.Unmarshal(r.sc.Bytes(), &e); err != nil {
			return e, domain.Errorf(domain.EINVALID, "%s: not a bundle event: %v", r.Where(), err)
		}
		if e.Revision <= r.last {
			return e, domain.Errorf(domain.EINVALID, "%s: revision %d does not follow %d", r.Where(), e.Revision, r.last)
		}
		r.last = e.Revision
		switch {
		case e.Type == domain.LibrarySaved && e.Entry == nil:
			return e, domain.Errorf(domain.EINVALID, "%s: library event without \"entry\"", r.Where())
		case e.Type == domain.ProjectActivated && e.Project == nil:
			return e, domain.Errorf(domain.EINVALID, "%s: project event without \"project\"", r.Where())
		}
		if err := insideNames(e); err != nil {
			return e, domain.Errorf(domain.EINVALID, "%s: %s", r.Where(), domain.ErrorMessage(err))
		}
		return e, nil
	}
	if err := r.sc.Err(); err != nil {
		return Event{}, domain.Errorf(domain.EINVALID, "%s: %v", r.name, err)
	}
	return Event{}, io.EOF
}

// insideNames refuses an event whose names would become paths outside
// where they are written (a project directory, a library file): a bundle
// is a file anyone may have crafted.
func insideNames(e Event) error {
	if e.Project != nil {
		if err := domain.ValidateProjectName(*e.Project); err != nil {
			return err
		}
	}
	if e.Entry != nil {
		if err := domain.ValidateLibraryType(e.Entry.Type); err != nil {
			return err
		}
		return domain.ValidateLibraryPath(e.Entry.Path)
	}
	return nil
}

// checkpointLine returns the checkpoint of a Checkpoint line.
func checkpointLine(line []byte) (json.RawMessage, bool) {
	if !bytes.HasPrefix(bytes.TrimSpace(line), []byte(`{"checkpoint":`)) {
		return nil, false
	}
	var c Checkpoint
	if json.Unmarshal(line, &c) != nil || len(c.Checkpoint) == 0 {
		return nil, false
	}
	return c.Checkpoint, true
}
