package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// valueWidth is how much of a property's old or new value a diff shows.
const valueWidth = 60

func (m *Main) diffCommand(v *viper.Viper) *cobra.Command {
	var positions bool
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Show what changed in the flows between two revisions, node by node",
		Long: `diff compares the flows at revision A with the flows at revision B: nodes
added (+), removed (-) and changed (~), with each changed property as
"name: old → new" (long values cut) and a unified diff for code such as a
function's source. Changes of a node's place on the canvas only are marked
"(moved on canvas)"; --positions=false leaves them out.

"diff staging@12 prod@40" compares revisions of two namespaces (a name
without @REV means its head): what differs between environments, overlay
and env values included (flowhist drift leaves those out).
` + exitCodesHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.Contains(args[0]+args[1], "@") {
				return m.diffAcross(cmd, v, args[0], args[1], positions)
			}
			c, err := newClient(v)
			if err != nil {
				return err
			}
			from, err := parseRev(args[0])
			if err != nil {
				return err
			}
			to, err := parseRev(args[1])
			if err != nil {
				return err
			}
			q := client.DiffQuery{From: from, To: to, NoPositions: !positions}
			if from > to {
				// "diff 12 3": what going back from 12 to 3 changes.
				q.From, q.To, q.Reverse = to, from, true
			}
			d, err := c.Diff(cmd.Context(), q)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, d)
			}
			printDiff(m.Stdout, d, colorsFor(m.Stdout))
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().BoolVar(&positions, "positions", true, "include nodes that only moved on the canvas")
	return cmd
}

func printDiff(w io.Writer, d httpapi.Diff, c colors) {
	fmt.Fprintf(w, "%sflows %d → %d%s\n", c.bold, d.From, d.To, c.reset)
	printChanges(w, domain.FlowsDiff{Added: d.Added, Removed: d.Removed, Changed: d.Changed}, d.Credentials.Changed, c)
}

// printChanges prints a diff's nodes, one per line with their changed
// properties, and whether the credentials changed.
func printChanges(w io.Writer, d domain.FlowsDiff, credentials bool, c colors) {
	if len(d.Added)+len(d.Removed)+len(d.Changed) == 0 && !credentials {
		fmt.Fprintln(w, "no changes")
		return
	}
	for _, n := range d.Added {
		fmt.Fprintf(w, "%s+ %s%s\n", c.green, nodeLine(n), c.reset)
	}
	for _, n := range d.Removed {
		fmt.Fprintf(w, "%s- %s%s\n", c.red, nodeLine(n), c.reset)
	}
	for _, n := range d.Changed {
		line := nodeLine(n.NodeRef)
		if n.PositionOnly {
			line += " (moved on canvas)"
		}
		fmt.Fprintf(w, "%s~ %s%s\n", c.yellow, line, c.reset)
		if n.PositionOnly {
			continue
		}
		if n.Moved != nil {
			fmt.Fprintf(w, "    moved from %s to %s\n", orNone(n.Moved.From), orNone(n.Moved.To))
		}
		if n.Group != nil {
			fmt.Fprintf(w, "    group %s → %s\n", orNone(n.Group.From), orNone(n.Group.To))
		}
		for _, p := range n.Properties {
			if p.Unified != "" {
				fmt.Fprintf(w, "    %s:\n", p.Name)
				for _, l := range strings.Split(strings.TrimRight(p.Unified, "\n"), "\n") {
					fmt.Fprintf(w, "        %s\n", colorLine(l, c))
				}
				continue
			}
			fmt.Fprintf(w, "    %s: %s → %s\n", p.Name, value(p.Old), value(p.New))
		}
	}
	if credentials {
		fmt.Fprintln(w, "credentials changed")
	}
}

// value shows a JSON value in one short line, a string quoted.
func value(v json.RawMessage) string {
	if len(v) == 0 {
		return "(none)"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return oneLine(fmt.Sprintf("%q", s), valueWidth)
	}
	return oneLine(string(v), valueWidth)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// colorLine colours a unified diff line by its first character.
func colorLine(l string, c colors) string {
	switch {
	case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		return c.bold + l + c.reset
	case strings.HasPrefix(l, "+"):
		return c.green + l + c.reset
	case strings.HasPrefix(l, "-"):
		return c.red + l + c.reset
	case strings.HasPrefix(l, "@@"):
		return c.dim + l + c.reset
	}
	return l
}
