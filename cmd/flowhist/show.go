package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) showCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show REV",
		Short: "Show one revision: who, when, what it changed",
		Long: `show prints one revision of the namespace's log: its type, time (UTC),
actor, sha256, the nodes it added, changed and removed, and, for settings,
library, packages and project revisions, its payload (settings secrets
redacted). Credentials are never shown, only whether they changed.
` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			rev, err := parseRev(args[0])
			if err != nil {
				return err
			}
			e, err := c.Revision(cmd.Context(), rev)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, e)
			}
			m.printEntry(e)
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	return cmd
}

func (m *Main) printEntry(e httpapi.HistoryEntry) {
	c := colorsFor(m.Stdout)
	w := m.Stdout
	fmt.Fprintf(w, "%srevision %d%s  %s\n", c.bold, e.Revision, c.reset, e.Type)
	fmt.Fprintf(w, "time:      %s\n", formatTime(e.Time))
	fmt.Fprintf(w, "aggregate: %s (its revision %d)\n", e.Aggregate, e.AggregateRevision)
	actor := actorString(e.Actor, e.Token, nil)
	if e.Actor.RemoteAddr != "" {
		actor += " from " + e.Actor.RemoteAddr
	}
	fmt.Fprintf(w, "actor:     %s\n", actor)
	if e.Actor.Channel != "" {
		fmt.Fprintf(w, "channel:   %s (as the client said)\n", e.Actor.Channel)
	}
	if cl := e.Claimed; cl != nil {
		fmt.Fprintf(w, "claimed:   %s (the import source's claim, not checked)\n", claimString(*cl))
	}
	if e.SHA256 != "" {
		fmt.Fprintf(w, "sha256:    %s\n", e.SHA256)
	}
	if e.Cause != "" {
		cause := e.Cause
		if e.Cause == domain.CauseRollback {
			cause = fmt.Sprintf("rollback to revision %d", e.Target)
		}
		fmt.Fprintf(w, "cause:     %s\n", cause)
	}
	if e.Reason != "" {
		fmt.Fprintf(w, "reason:    %s\n", e.Reason)
	}
	if e.Credentials != nil && e.Credentials.Changed {
		fmt.Fprintf(w, "credentials changed (sha256 %s)\n", e.Credentials.SHA256)
	}
	if s := e.Summary; s != nil {
		fmt.Fprintf(w, "changes:   +%d ~%d -%d\n", len(s.Added), len(s.Changed), len(s.Removed))
		for _, n := range s.Added {
			fmt.Fprintf(w, "  %s+ %s%s\n", c.green, nodeLine(n), c.reset)
		}
		for _, n := range s.Changed {
			fmt.Fprintf(w, "  %s~ %s%s\n", c.yellow, nodeLine(n), c.reset)
		}
		for _, n := range s.Removed {
			fmt.Fprintf(w, "  %s- %s%s\n", c.red, nodeLine(n), c.reset)
		}
	}
	if len(e.Payload) > 0 && string(e.Payload) != "null" {
		var buf bytes.Buffer
		json.Indent(&buf, e.Payload, "  ", "  ")
		fmt.Fprintf(w, "payload:\n  %s\n", strings.TrimSpace(buf.String()))
	}
}
