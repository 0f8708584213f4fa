package main

import (
	"io"
	"os"
)

// isTerminal reports whether w is a terminal: a file whose descriptor
// answers the terminal ioctl. Being a character device is not enough:
// /dev/null is one, and output sent there must not be drawn for a person.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && isTerminalFd(f.Fd())
}
