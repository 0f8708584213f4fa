package main

import (
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func (m *Main) nodeCommand(v *viper.Viper) *cobra.Command {
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "node ID",
		Short: "List the revisions that added, changed or removed one node",
		Long: `node lists, newest first, the revisions that touched the node with this id:
when, who, whether it was added, changed or removed, and which properties
changed. --all follows the pages to the first revision.
` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			if err := checkLimit(limit); err != nil {
				return err
			}
			p := client.Page{Limit: limit}
			entries := []httpapi.NodeHistoryEntry{}
			var next string
			for {
				page, err := c.NodeHistory(cmd.Context(), args[0], p)
				if err != nil {
					return err
				}
				if jsonFlag(cmd) && !all {
					return printAnswer(m.Stdout, page)
				}
				entries, next = append(entries, page.Entries...), page.NextCursor
				if p.Cursor = next; !all || next == "" {
					break
				}
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, httpapi.NodeHistory{Node: args[0], Entries: entries})
			}
			if len(entries) == 0 {
				fmt.Fprintf(m.Stdout, "no revision in namespace %s touched node %s\n", c.Namespace(), args[0])
				return nil
			}
			rows := make([][]string, len(entries))
			for i, e := range entries {
				rows[i] = []string{e.Revision.String(), formatTime(e.Time), actorString(e.Actor, e.Token, nil), e.Change, nodeProperties(e)}
			}
			if err := printTable(m.Stdout, []string{"REV", "TIME", "ACTOR", "CHANGE", "PROPERTIES"}, rows); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintln(m.Stdout, "(older revisions: --all)")
			}
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 50, "revisions to show (a page with --all), 1 to 500")
	cmd.Flags().BoolVar(&all, "all", false, "follow the pages to the first revision")
	return cmd
}

func nodeProperties(e httpapi.NodeHistoryEntry) string {
	if e.PositionOnly {
		return "(moved on canvas)"
	}
	if e.Change != "changed" {
		return "" // every property of an added or removed node: noise
	}
	names := make([]string, len(e.Properties))
	for i, p := range e.Properties {
		names[i] = p.Name
	}
	return oneLine(strings.Join(names, ", "), 60)
}
