//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

// isTerminalFd says no where flowhist knows no terminal ioctl: plain output
// is always readable.
func isTerminalFd(fd uintptr) bool { return false }
