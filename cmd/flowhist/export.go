package main

import (
	"fmt"
	"os"

	"github.com/flowhist/flowhist/bundle"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/userdir"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// exportFileReport and exportDirReport are what export -o and --dir
// print with --json.
type exportFileReport struct {
	Bytes    int             `json:"bytes"`
	Output   string          `json:"output"`
	Revision domain.Revision `json:"revision"`
}

type exportDirReport struct {
	Dir      string          `json:"dir"`
	Files    []string        `json:"files"`
	Revision domain.Revision `json:"revision"`
}

// exportHistoryReport is what export --history prints with --json.
type exportHistoryReport struct {
	History   string          `json:"history"`
	Namespace string          `json:"namespace"`
	Revision  domain.Revision `json:"revision"`
}

func (m *Main) exportCommand(v *viper.Viper) *cobra.Command {
	var output, dir, history string
	cmd := &cobra.Command{
		Use:   "export REV (-o FILE | --dir DIR) | export [REV] --history FILE",
		Short: "Write the flows as they were at a revision, to one file or one file per tab",
		Long: `export writes the flows document of revision REV.

-o FILE writes it byte for byte as flowhist stores it (-o - to stdout).
--dir DIR writes one file per tab and per subflow definition,
DIR/<label or name>-<id>.json, holding the tab or subflow followed by its
nodes, and the config nodes (on no tab) to DIR/_global.json; each file is a
JSON array indented by 4 spaces like Node-RED's flows.json, so that the same
revision always gives the same files, ready for git. Files of tabs that no
longer exist are not removed: export into an empty directory to mirror a
revision exactly.

--history FILE writes the namespace's whole log up to REV (default: all of
it) as a history bundle for ` + "`flowhist import --from-export FILE`" + `, which
replays it into another namespace or installation: a header line, then one
JSON line per event with its type, time, actor and reason and the whole
document of its aggregate after it (flows with their encrypted credentials,
settings, a library entry, packages, the active project). Credentials of
past revisions are not served by the API, so --history reads the log from
Valkey directly, like verify (--valkey-addr or FLOWHIST_VALKEY_ADDR); the
file holds encrypted credentials: keep it as safe as the Valkey data.

Exactly one of -o, --dir and --history is required.
` + exitCodesHelp,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, s := range []string{output, dir, history} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return &domain.Error{Code: domain.EINVALID, Message: "export needs exactly one of -o FILE, --dir DIR and --history FILE"}
			}
			if history != "" {
				return m.exportHistory(cmd, v, args, history)
			}
			if len(args) != 1 {
				return &domain.Error{Code: domain.EINVALID, Message: "export -o and --dir need the revision REV"}
			}
			rev, err := parseRev(args[0])
			if err != nil {
				return err
			}
			c, err := newClient(v)
			if err != nil {
				return err
			}
			d, err := c.RevisionFlows(cmd.Context(), rev)
			if err != nil {
				return err
			}
			doc := []byte(d.Body)
			var report any
			if output != "" {
				if output == "-" {
					_, err := m.Stdout.Write(doc)
					return err
				}
				if err := os.WriteFile(output, doc, 0o644); err != nil {
					return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("write %s: %v", output, err)}
				}
				report = exportFileReport{Bytes: len(doc), Output: output, Revision: rev}
				if !jsonFlag(cmd) {
					fmt.Fprintf(m.Stdout, "wrote the flows of revision %d to %s (%d bytes)\n", rev, output, len(doc))
				}
			} else {
				names, err := userdir.WriteTabs(dir, doc)
				if err != nil {
					return err
				}
				report = exportDirReport{Dir: dir, Files: names, Revision: rev}
				if !jsonFlag(cmd) {
					fmt.Fprintf(m.Stdout, "wrote the flows of revision %d to %d files in %s\n", rev, len(names), dir)
				}
			}
			if jsonFlag(cmd) {
				return printAnswer(m.Stdout, report)
			}
			return nil
		},
	}
	addClientFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the flows array to this file (- for stdout)")
	cmd.Flags().StringVar(&dir, "dir", "", "write one file per tab and subflow into this directory")
	cmd.Flags().StringVar(&history, "history", "", "write the whole log up to REV as a history bundle for import --from-export (- for stdout)")
	addValkeyFlags(cmd.Flags())
	return cmd
}

// exportHistory writes the history bundle of export --history.
func (m *Main) exportHistory(cmd *cobra.Command, v *viper.Viper, args []string, file string) error {
	var rev domain.Revision
	if len(args) == 1 {
		var err error
		if rev, err = parseRev(args[0]); err != nil {
			return err
		}
	}
	// It reads Valkey directly: the namespace is needed, not flowhist's URL.
	var c config
	readOptions(v, &c)
	ns := c.cli.namespace
	if ns == "" {
		return domain.Errorf(domain.EINVALID, "no namespace: set --namespace/-n, FLOWHIST_NAMESPACE or cli.namespace in the config file")
	}
	store, closeFn, err := openNamespace(v, ns)
	if err != nil {
		return err
	}
	defer closeFn()
	if file == "-" {
		_, err := bundle.Write(cmd.Context(), store, ns, rev, m.Stdout)
		return err
	}
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("create %s: %v", tmp, err)}
	}
	last, err := bundle.Write(cmd.Context(), store, ns, rev, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("write %s: %v", tmp, cerr)}
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("write %s: %v", file, err)}
	}
	if jsonFlag(cmd) {
		return printAnswer(m.Stdout, exportHistoryReport{History: file, Namespace: ns, Revision: last})
	}
	fmt.Fprintf(m.Stdout, "wrote the history of %s up to revision %d to %s\n", ns, last, file)
	return nil
}
