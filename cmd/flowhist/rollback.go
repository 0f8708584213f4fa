package main

import (
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) rollbackCommand(v *viper.Viper) *cobra.Command {
	var reason string
	var ifMatch uint64
	cmd := &cobra.Command{
		Use:   `rollback REV --reason "why"`,
		Short: "Restore the flows (and credentials) as they were at a revision",
		Long: `rollback appends a new revision whose flows and credentials are those of
revision REV; nothing in the log is deleted, and the rollback shows in the
history with its reason. --reason is required. --if-match N makes it fail
with a conflict (exit 4) unless the flows are still at flows revision N,
so that a rollback decided on a stale view does not undo newer deploys.
The token needs the admin scope.
` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rev, err := parseRev(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return &domain.Error{Code: domain.EINVALID, Message: `rollback needs --reason "why": it is recorded in the history`}
			}
			c, err := newClient(v, cmd)
			if err != nil {
				return err
			}
			var w client.Write
			if cmd.Flags().Changed("if-match") {
				w.IfMatch = (*domain.Revision)(&ifMatch)
			}
			res, err := c.Rollback(cmd.Context(), rev, reason, w)
			if err != nil {
				return err
			}
			switch {
			case jsonFlag(cmd) && res.Noop != nil:
				return printAnswer(m.Stdout, res.Noop)
			case jsonFlag(cmd):
				return printAnswer(m.Stdout, res.Saved)
			case res.Noop != nil:
				fmt.Fprintf(m.Stdout, "already at %d: nothing to do\n", rev)
			default:
				fmt.Fprintf(m.Stdout, "rolled back to %d as revision %d\n", rev, res.Saved.Revision)
			}
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the history (required)")
	cmd.Flags().Uint64Var(&ifMatch, "if-match", 0, "fail with a conflict unless the flows are at this flows revision")
	return cmd
}
