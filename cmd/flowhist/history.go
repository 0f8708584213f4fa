package main

import (
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// exitCodesHelp ends the Long help of every command that talks to
// flowhist over HTTP.
const exitCodesHelp = `
Connection: --url, --token and --namespace/-n, else FLOWHIST_URL (default
http://127.0.0.1:8080), FLOWHIST_TOKEN and FLOWHIST_NAMESPACE, else cli.url,
cli.token and cli.namespace in the config file.

Exit codes: 0 success; 1 internal error; 2 bad flags, arguments or input;
3 not found (namespace, revision or node); 4 conflict; 5 unauthorized or
forbidden (check the token and its scopes); 6 flowhist unreachable.`

func (m *Main) historyCommand(v *viper.Viper) *cobra.Command {
	var limit int
	var all bool
	var cursor string
	q := map[string]*string{"kind": new(string), "actor": new(string), "since": new(string), "until": new(string), "node": new(string)}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List a namespace's changes, newest first",
		Long: `history lists the namespace's log newest first: revision, time (UTC), event
type, who made it and what it changed. It shows --limit entries; --all
follows the pages to the first revision. Filters: --kind (comma-separated:
` + strings.Join(domain.HistoryKinds(), ", ") + `),
--actor USER, --since and --until (RFC 3339 times), --node ID.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(v)
			if err != nil {
				return err
			}
			if err := checkLimit(limit); err != nil {
				return err
			}
			hq := client.HistoryQuery{Page: client.Page{Limit: limit, Cursor: cursor}, Kind: *q["kind"], Actor: *q["actor"], Since: *q["since"], Until: *q["until"], Node: *q["node"]}
			entries := []httpapi.HistoryEntry{}
			var next string
			for {
				page, err := c.History(cmd.Context(), hq)
				if err != nil {
					return err
				}
				if !all && jsonFlag(cmd) {
					return printAnswer(m.Stdout, page)
				}
				entries, next = append(entries, page.Entries...), page.NextCursor
				if hq.Cursor = next; !all || next == "" {
					break
				}
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, httpapi.History{Entries: entries})
			}
			if len(entries) == 0 {
				fmt.Fprintf(m.Stdout, "no history in namespace %s matches\n", c.Namespace())
				return nil
			}
			if err := printHistory(m, entries); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(m.Stdout, "(older entries: --cursor %s, or --all)\n", next)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	addClientFlags(fs)
	fs.IntVar(&limit, "limit", 50, "entries to show (a page with --all), 1 to 500")
	fs.BoolVar(&all, "all", false, "follow the pages to the first revision")
	fs.StringVar(&cursor, "cursor", "", "continue below this cursor (printed after a page)")
	fs.StringVar(q["kind"], "kind", "", "only these kinds, comma-separated: "+strings.Join(domain.HistoryKinds(), ", "))
	fs.StringVar(q["actor"], "actor", "", "only changes by this user")
	fs.StringVar(q["since"], "since", "", "only changes at or after this RFC 3339 time")
	fs.StringVar(q["until"], "until", "", "only changes at or before this RFC 3339 time")
	fs.StringVar(q["node"], "node", "", "only flows changes touching this node id")
	return cmd
}

func printHistory(m *Main, entries []httpapi.HistoryEntry) error {
	rows := make([][]string, len(entries))
	for i, e := range entries {
		rows[i] = []string{e.Revision.String(), formatTime(e.Time), string(e.Type), actorString(e.Actor, e.Token, e.Claimed), changes(e)}
	}
	return printTable(m.Stdout, []string{"REV", "TIME", "TYPE", "ACTOR", "CHANGES"}, rows)
}

// jsonFlag reports whether --json was given.
func jsonFlag(cmd *cobra.Command) bool {
	b, _ := cmd.Flags().GetBool("json")
	return b
}
