package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/flowhist/flowhist/domain"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// globalFile holds the config nodes: those on no tab or subflow.
const globalFile = "_global.json"

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
			c, err := newClient(v, cmd)
			if err != nil {
				return err
			}
			d, err := c.RevisionFlows(cmd.Context(), rev)
			if err != nil {
				return err
			}
			doc := []byte(d.Body)
			report := map[string]any{"revision": rev}
			if output != "" {
				if output == "-" {
					_, err := m.Stdout.Write(doc)
					return err
				}
				if err := os.WriteFile(output, doc, 0o644); err != nil {
					return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("write %s: %v", output, err)}
				}
				report["output"], report["bytes"] = output, len(doc)
				if !jsonFlag(cmd) {
					fmt.Fprintf(m.Stdout, "wrote the flows of revision %d to %s (%d bytes)\n", rev, output, len(doc))
				}
			} else {
				files, err := splitFlows(doc)
				if err != nil {
					return err
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("create %s: %v", dir, err)}
				}
				names := make([]string, len(files))
				for i, f := range files {
					names[i] = f.name
					if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
						return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("write %s: %v", filepath.Join(dir, f.name), err)}
					}
				}
				report["dir"], report["files"] = dir, names
				if !jsonFlag(cmd) {
					fmt.Fprintf(m.Stdout, "wrote the flows of revision %d to %d files in %s\n", rev, len(files), dir)
				}
			}
			if jsonFlag(cmd) {
				data, _ := json.Marshal(report)
				return printJSON(m.Stdout, data)
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
	readClientConfig(v, cmd)
	ns := v.GetString("cli.namespace")
	if ns == "" {
		return domain.Errorf(domain.EINVALID, "no namespace: set --namespace/-n, FLOWHIST_NAMESPACE or cli.namespace in the config file")
	}
	store, closeFn, err := openNamespace(v, ns)
	if err != nil {
		return err
	}
	defer closeFn()
	if file == "-" {
		_, err := writeHistoryBundle(cmd.Context(), store, ns, rev, m.Stdout)
		return err
	}
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("create %s: %v", tmp, err)}
	}
	last, err := writeHistoryBundle(cmd.Context(), store, ns, rev, f)
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
		data, _ := json.Marshal(map[string]any{"namespace": ns, "revision": last, "history": file})
		return printJSON(m.Stdout, data)
	}
	fmt.Fprintf(m.Stdout, "wrote the history of %s up to revision %d to %s\n", ns, last, file)
	return nil
}

// flowFile is one file of an export --dir.
type flowFile struct {
	name string
	data []byte
}

// splitFlows splits a flows document into one file per tab and subflow
// definition, in document order, then the global file if any node is on no
// tab. A node whose tab is missing goes to the global file too, so that
// no node is lost.
func splitFlows(doc []byte) ([]flowFile, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(doc, &raws); err != nil {
		return nil, domain.Errorf(domain.EINTERNAL, "the flows are not a JSON array: %v", err)
	}
	type node struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Z     string `json:"z"`
		Label string `json:"label"`
		Name  string `json:"name"`
	}
	nodes := make([]node, len(raws))
	var order []string                        // tab and subflow ids
	members := map[string][]json.RawMessage{} // by tab or subflow id, the container first
	names := map[string]string{}
	container := map[string]int{} // index of each tab and subflow node
	for i, r := range raws {
		if err := json.Unmarshal(r, &nodes[i]); err != nil {
			return nil, domain.Errorf(domain.EINTERNAL, "node %d of the flows is not an object: %v", i, err)
		}
		if n := nodes[i]; n.Type == "tab" || n.Type == "subflow" {
			if _, dup := members[n.ID]; dup {
				continue // a second node with the same id: kept with the global nodes
			}
			label := n.Label
			if n.Type == "subflow" || label == "" {
				label = n.Name
			}
			if label == "" {
				label = n.Type
			}
			order = append(order, n.ID)
			container[n.ID] = i
			members[n.ID] = []json.RawMessage{r}
			names[n.ID] = sanitize(label) + "-" + sanitize(n.ID) + ".json"
		}
	}
	var global []json.RawMessage
	for i, n := range nodes {
		if at, ok := container[n.ID]; ok && at == i {
			continue // a tab or subflow itself, already first in its file
		}
		if n.Z != "" && members[n.Z] != nil {
			members[n.Z] = append(members[n.Z], raws[i])
		} else {
			global = append(global, raws[i])
		}
	}
	var files []flowFile
	for _, id := range order {
		data, err := indentArray(members[id])
		if err != nil {
			return nil, err
		}
		files = append(files, flowFile{names[id], data})
	}
	if len(global) > 0 {
		data, err := indentArray(global)
		if err != nil {
			return nil, err
		}
		files = append(files, flowFile{globalFile, data})
	}
	return files, nil
}

// indentArray writes nodes as a JSON array indented by 4 spaces, as
// Node-RED writes flows.json, with a final newline.
func indentArray(nodes []json.RawMessage) ([]byte, error) {
	var compact bytes.Buffer
	compact.WriteByte('[')
	for i, n := range nodes {
		if i > 0 {
			compact.WriteByte(',')
		}
		compact.Write(n)
	}
	compact.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "    "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// sanitize makes s safe in a file name on every system: letters, digits,
// '_', '.' and '-', other runs of characters as one '-', at most 40
// characters.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
			dash = r == '-'
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if r := []rune(out); len(r) > 40 {
		out = strings.TrimRight(string(r[:40]), "-.")
	}
	if out == "" {
		return "_"
	}
	return out
}
