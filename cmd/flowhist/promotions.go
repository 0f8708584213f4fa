package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) promotionsCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "promotions",
		Short: "List, show, approve and reject promotion requests into a namespace",
		Long: `promotions manages the requests flowhist promote --request recorded into
the namespace (-n): list them (--state pending), show one with its frozen
preview, approve it (applies it; another person than the requester, with
the approve scope) or reject it (the requester may withdraw their own).
A request whose target moved since is stale: it can only be rejected.
` + exitCodesHelp,
	}
	var state, user, reason string
	var out bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List promotion requests, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			l, err := c.Promotions(cmd.Context(), state, out)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, l)
			}
			printRequests(m.Stdout, l.Requests)
			return nil
		},
	}
	addClientFlags(list.Flags())
	list.Flags().StringVar(&state, "state", "", "only requests in this state: pending, approved, rejected")
	list.Flags().BoolVar(&out, "out", false, "requests out of the namespace instead of into it")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a promotion request with its frozen preview",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			r, err := c.PromotionRequest(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, r)
			}
			printRequests(m.Stdout, []domain.PromotionRequest{r})
			fmt.Fprintf(m.Stdout, "reason: %s\n", oneLine(r.Reason, 200))
			printPreview(m.Stdout, r.Preview, colorsFor(m.Stdout))
			return nil
		},
	}
	addClientFlags(show.Flags())
	decide := func(approve bool) *cobra.Command {
		verb := "reject"
		if approve {
			verb = "approve"
		}
		d := &cobra.Command{
			Use:   verb + " ID",
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " a promotion request",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := newClient(v)
				if err != nil {
					return err
				}
				r, err := c.DecidePromotion(cmd.Context(), args[0], approve, reason, client.Write{User: user})
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return printAnswer(m.Stdout, r)
				}
				if approve {
					fmt.Fprintf(m.Stdout, "approved %s: %s@%d promoted to %s as revision %d\n", r.ID, r.From, r.Source.Revision, r.To, r.AppliedRevision)
				} else {
					fmt.Fprintf(m.Stdout, "rejected %s\n", r.ID)
				}
				return nil
			},
		}
		addClientFlags(d.Flags())
		d.Flags().StringVar(&reason, "reason", "", "why, recorded in both histories")
		d.Flags().StringVar(&user, "user", "", "the user to act as, for a token that may name one")
		return d
	}
	cmd.AddCommand(list, show, decide(true), decide(false))
	return cmd
}

// printRequests prints requests as a table.
func printRequests(w io.Writer, reqs []domain.PromotionRequest) {
	if len(reqs) == 0 {
		fmt.Fprintln(w, "no promotion requests")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tFROM\tTO\tBY\tWHEN")
	for _, r := range reqs {
		st := r.State
		if r.Stale {
			st += " (stale)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s@%d\t%s@%d\t%s\t%s\n", r.ID, st, r.From, r.Source.Revision, r.To, r.TargetHead.Revision,
			oneLine(r.RequestedBy.User, 40), r.RequestedBy.Time.Format("2006-01-02 15:04"))
	}
	tw.Flush()
}
