package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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

// exitFor maps an error to its exit code and one human line. The code
// derives from the error's domain code alone. Every command's own errors
// are domain errors (asDomain sees to it), so any other error is cobra's
// own, about the command line.
func exitFor(err error) (int, string) {
	var de *domain.Error
	if !errors.As(err, &de) {
		return exitUsage, err.Error() + " (see --help)"
	}
	switch de.Code {
	case domain.EINVALID, domain.ETOOLARGE:
		return exitUsage, de.Message
	case domain.ENOTFOUND:
		return exitNotFound, de.Message
	case domain.ECONFLICT:
		return exitConflict, de.Message
	case domain.EUNAUTHORIZED, domain.EFORBIDDEN:
		return exitAuth, de.Message
	case domain.EUNAVAILABLE, domain.ETOOMANY:
		return exitUnavailable, de.Message
	}
	return exitFailed, de.Message
}

// asDomain makes every error that cmd's RunE (and its children's) return a
// *domain.Error: one that is not yet is an internal error.
func asDomain(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			var de *domain.Error
			if err != nil && !errors.As(err, &de) {
				return &domain.Error{Code: domain.EINTERNAL, Message: err.Error(), Err: err}
			}
			return err
		}
	}
	for _, c := range cmd.Commands() {
		asDomain(c)
	}
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
	root.AddCommand(m.versionCommand(), m.verifyCommand(v), m.serveCommand(v), m.tokenCommand(), m.historyCommand(v), m.showCommand(v), m.diffCommand(v), m.nodeCommand(v), m.rollbackCommand(v), m.workersCommand(v), m.exportCommand(v), m.replayCommand(v), m.healthcheckCommand(), m.importCommand(v), m.keygenCommand(), m.checkpointCommand(v), m.auditCommand(v), m.rolloutCommand(v))
	asDomain(root)
	return root
}
