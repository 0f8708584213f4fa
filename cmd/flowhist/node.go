package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

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
			c, err := newClient(v, cmd)
			if err != nil {
				return err
			}
			q, err := limitQuery(limit)
			if err != nil {
				return err
			}
			var entries []httpapi.NodeHistoryEntry
			var raws []json.RawMessage
			next := ""
			for {
				if next != "" {
					q.Set("cursor", next)
				}
				var page struct {
					Entries    []json.RawMessage `json:"entries"`
					NextCursor string            `json:"nextCursor"`
				}
				data, err := c.get(cmd.Context(), "/nodes/"+url.PathEscape(args[0])+"/history", q, &page)
				if err != nil {
					return err
				}
				if jsonFlag(cmd) && !all {
					return printJSON(m.Stdout, data)
				}
				for _, r := range page.Entries {
					var e httpapi.NodeHistoryEntry
					if err := json.Unmarshal(r, &e); err != nil {
						return fmt.Errorf("flowhist answered a node history entry with unexpected JSON: %v", err)
					}
					entries = append(entries, e)
				}
				raws = append(raws, page.Entries...)
				next = page.NextCursor
				if !all || next == "" {
					break
				}
			}
			if jsonFlag(cmd) {
				if raws == nil {
					raws = []json.RawMessage{}
				}
				data, _ := json.Marshal(map[string]any{"node": args[0], "entries": raws})
				return printJSON(m.Stdout, data)
			}
			if len(entries) == 0 {
				fmt.Fprintf(m.Stdout, "no revision in namespace %s touched node %s\n", c.ns, args[0])
				return nil
			}
			rows := make([][]string, len(entries))
			for i, e := range entries {
				rows[i] = []string{e.Revision.String(), formatTime(e.Time), actorString(e.Actor), e.Change, nodeProperties(e)}
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
