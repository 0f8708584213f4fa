package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitFailed      = 1 // the command ran and found a problem (verify), or an internal error
	exitUsage       = 2 // bad flags or arguments, invalid input
	exitNotFound    = 3
	exitConflict    = 4
	exitAuth        = 5 // unauthorized or forbidden
	exitUnavailable = 6 // Valkey or flowhist unreachable
)

// Main is the flowhist program, with its streams replaceable for tests.
type Main struct {
	Stdout, Stderr io.Writer
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// exitError carries an exit code chosen by a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Run runs the command line args and returns the process exit code. Every
// failure prints one line on stderr saying what to fix.
func (m *Main) Run(ctx context.Context, args []string) int {
	v := viper.New()
	root := m.rootCommand(v)
	root.SetArgs(args)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code, msg := exitFor(err)
	fmt.Fprintf(m.Stderr, "flowhist: %s\n", msg)
	return code
}

// exitFor maps an error to its exit code and one human line.
func exitFor(err error) (int, string) {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.msg
	}
	var de *domain.Error
	if errors.As(err, &de) {
		switch de.Code {
		case domain.EINVALID, domain.ETOOLARGE:
			return exitUsage, de.Message
		case domain.ENOTFOUND:
			return exitNotFound, de.Message
		case domain.ECONFLICT:
			return exitConflict, de.Message
		case domain.EUNAUTHORIZED, domain.EFORBIDDEN:
			return exitAuth, de.Message
		case domain.EUNAVAILABLE:
			return exitUnavailable, de.Message
		}
		return exitFailed, de.Message
	}
	if isUsageError(err) {
		return exitUsage, err.Error() + " (see --help)"
	}
	return exitFailed, err.Error()
}

// isUsageError recognizes cobra's and pflag's argument errors, which have no
// type of their own.
func isUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func (m *Main) rootCommand(v *viper.Viper) *cobra.Command {
	root := &cobra.Command{
		Use:           "flowhist",
		Short:         "Event-sourced flow history for Node-RED clusters on Valkey Streams",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return loadConfig(v, cmd)
		},
	}
	root.PersistentFlags().String("config", "", "config file (default: ./flowhist.yaml or /etc/flowhist/flowhist.yaml if present)")
	root.AddCommand(m.versionCommand(), m.verifyCommand(v), m.serveCommand(v), m.tokenCommand(), m.historyCommand(v), m.showCommand(v), m.diffCommand(v), m.nodeCommand(v), m.rollbackCommand(v), m.workersCommand(v), m.exportCommand(v), m.replayCommand(v))
	return root
}
