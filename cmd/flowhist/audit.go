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

func (m *Main) auditCommand(v *viper.Viper) *cobra.Command {
	var q client.AuditQuery
	var format string
	cmd := &cobra.Command{
		Use:   "audit [--ns NS,GLOB…] [filters] [--format table|json|ndjson|csv] [--follow]",
		Short: "List the events of many namespaces at once, newest first, or follow them as they land",
		Long: `audit asks GET /v1/audit for the events of every namespace the token covers
(--ns narrows them: names or globs such as prod-*), newest first, each with
its namespace, revision and hash-chain link (what verify --checkpoints
checks). Filters: --user USER, --via TOKEN (the token that acted), --kind
(comma-separated: flows, credentials, settings, library, packages, project,
rollback), --node ID, --since and --until (RFC 3339).

--format table (default) and json show a page of --limit entries (default
50) and the --cursor of the next; ndjson and csv stream every event selected
(or --limit of them) without holding them in memory: an export. --follow
streams the events after --cursor (default: from now) and then every new
one as it lands, until interrupted; each line's cursor resumes it. The
token needs the audit scope (admin implies it).
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c config
			readOptions(v, &c)
			cl, err := client.New(client.Config{URL: c.cli.url, Token: c.cli.token, Namespace: "_", Channel: domain.ChannelCLI})
			if err != nil {
				return err
			}
			switch format {
			case "table", "json":
				if q.Follow {
					return domain.Errorf(domain.EINVALID, "--follow streams lines: use --format ndjson or csv")
				}
				if q.Limit == 0 {
					q.Limit = 50
				}
				if q.Limit > 1000 {
					return domain.Errorf(domain.EINVALID, "--limit %d is over 1000 for a page: use --format ndjson to export more", q.Limit)
				}
			case "ndjson", "csv":
			default:
				return domain.Errorf(domain.EINVALID, "--format %q is not one of table, json, ndjson, csv", format)
			}
			q.Format = format
			if format == "table" {
				q.Format = "json" // a page, with the cursor of the next
			}
			ctx := cmd.Context()
			body, err := cl.Audit(ctx, q)
			if err != nil {
				if q.Follow && ctx.Err() != nil {
					return nil // interrupted: a follow's normal end
				}
				return err
			}
			defer body.Close()
			switch format {
			case "json":
				data, err := io.ReadAll(body)
				if err != nil {
					return unavailable(cl, err)
				}
				return printJSON(m.Stdout, data)
			case "table":
				return m.printAuditTable(cl, body)
			}
			if _, err := io.Copy(m.Stdout, body); err != nil && ctx.Err() == nil {
				return unavailable(cl, err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	addFlags(fs, "url", "token")
	fs.StringSliceVar(&q.Namespaces, "ns", nil, "namespaces: names or globs, comma-separated or repeated (default: all the token covers)")
	fs.StringVar(&q.User, "user", "", "only events by this user")
	fs.StringVar(&q.Token, "via", "", "only events written through this token (by name)")
	fs.StringVar(&q.Kind, "kind", "", "only these kinds (comma-separated)")
	fs.StringVar(&q.Node, "node", "", "only events that changed this node id")
	fs.StringVar(&q.Since, "since", "", "only events at or after this time (RFC 3339)")
	fs.StringVar(&q.Until, "until", "", "only events at or before this time (RFC 3339)")
	fs.StringVar(&q.Cursor, "cursor", "", "continue after this entry (a cursor an earlier answer printed)")
	fs.IntVar(&q.Limit, "limit", 0, "most entries (table and json: a page, default 50; ndjson and csv: default all)")
	fs.StringVar(&format, "format", "table", "table, json, ndjson or csv")
	fs.BoolVar(&q.Follow, "follow", false, "stream new events as they land (ndjson or csv), until interrupted")
	return cmd
}

// printAuditTable prints a JSON page of the audit as a table, and the
// cursor of the next page if there is one.
func (m *Main) printAuditTable(cl *client.Client, body io.Reader) error {
	var page httpapi.Audit
	if err := json.NewDecoder(body).Decode(&page); err != nil {
		return unavailable(cl, err)
	}
	if len(page.Entries) == 0 {
		fmt.Fprintln(m.Stdout, "no events match")
		return nil
	}
	rows := make([][]string, len(page.Entries))
	for i, e := range page.Entries {
		hash := e.Hash
		if len(hash) > 12 {
			hash = hash[:12]
		}
		rows[i] = []string{formatTime(e.Time), oneLine(e.Namespace, 40), e.Revision.String(), oneLine(actorString(e.Actor, e.Token, e.Claimed), 40), string(e.Type), hash, oneLine(changes(e.HistoryEntry), 80)}
	}
	if err := printTable(m.Stdout, []string{"TIME", "NAMESPACE", "REV", "ACTOR", "TYPE", "HASH", "CHANGES"}, rows); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(m.Stdout, "(older entries: --cursor %s)\n", page.NextCursor)
	}
	return nil
}

// unavailable is the error of an answer cut off while it was read.
func unavailable(cl *client.Client, err error) error {
	return &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("reading the answer of flowhist at %s: %v", cl.URL(), strings.TrimSpace(err.Error()))}
}
