package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// Every event import appends is made by the importing token, as itself:
// the source is in its correlation id, and a history bundle's actor (the
// user, token and channel its events recorded) is recorded as the source's
// claim beside that token, never as the actor. So any token that may write
// may import, and none can pose as a user by importing.

// importItem is one append an import makes, through the ordinary API.
type importItem struct {
	kind   string     // flows, credentials, settings, library, project
	what   string     // what the dry run shows
	method string     // PUT or POST
	path   string     // namespace path: /deploy, /settings, /library/T, /project, /credentials
	query  url.Values // library: path
	body   []byte
	// origin is where in the source the item comes from (a bundle's
	// source revision): part of its identity, so that two equal deploys
	// at different revisions of a bundle are two items.
	origin string
	// claimed is who the source says made the item (a bundle's events);
	// nil when the source does not say.
	claimed *domain.Claim
}

// send appends the item through c.
func (it importItem) send(ctx context.Context, c *client.Client, w client.Write) (httpapi.Saved, error) {
	return c.Save(ctx, client.Request{Method: it.method, Path: it.path, Query: it.query, Body: it.body, Write: w})
}

// hash identifies an item by its content and origin, whatever the source's
// address: the same item imported again is recognised.
func (it importItem) hash() string {
	h := sha256.New()
	for _, p := range []string{it.kind, it.path, it.query.Encode(), it.origin, string(it.body)} {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// importSource is everything a source holds, validated, before anything is
// appended.
type importSource struct {
	desc  string // "valkey 127.0.0.1:6379 db 0, prefix nodered:"
	items []importItem
	notes []string // what is not imported, and why
}

func (s *importSource) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// correlationID records the source on the event: "import <hash> from
// <source><origin>", at most domain.MaxCorrelationID bytes.
func (s *importSource) correlationID(it importItem) string {
	cid := "import " + it.hash() + " from " + s.desc + it.origin
	if len(cid) > domain.MaxCorrelationID {
		cid = strings.ToValidUTF8(cid[:domain.MaxCorrelationID], "")
	}
	return cid
}

// importReport is what import --json prints.
type importReport struct {
	AlreadyImported int             `json:"alreadyImported"`
	DryRun          bool            `json:"dryRun"`
	FirstRevision   domain.Revision `json:"firstRevision,omitempty"`
	// Imported is how many items this run appended; absent in a dry run.
	Imported     *int            `json:"imported,omitempty"`
	Items        int             `json:"items"`
	LastRevision domain.Revision `json:"lastRevision,omitempty"`
	Namespace    string          `json:"namespace"`
	Notes        []string        `json:"notes"`
	Revision     domain.Revision `json:"revision"`
	Source       string          `json:"source"`
	ToImport     []string        `json:"toImport"`
}

type importOptions struct {
	fromValkey, fromUserDir, fromExport string
	valkey                              streams.DialConfig
	prefix, flowFile                    string
	dryRun                              bool
	ifMatch                             uint64
}

func (m *Main) importCommand(v *viper.Viper) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import (--from-valkey ADDR | --from-userdir DIR | --from-export FILE|DIR) [--dry-run] [--if-match REV]",
		Short: "Bring existing flows into a namespace: from the old Valkey module, a Node-RED userDir or a flowhist export",
		Long: `import appends what a source holds to the namespace as ordinary events
(deploys, settings, library entries, the active project), through the same
API the Node-RED admin uses, made by the CLI's token as itself, with the
source in each event's correlation id (and a history bundle's actors kept as
the source's claim beside the token). Workers following the namespace run
the result.

Sources (exactly one):
  --from-valkey ADDR   the keys of node-red-storage-valkey under --prefix
                       (default nodered:): flows, credentials, settings,
                       library entries, the active project; gzip: values are
                       decoded. Sessions (live editor tokens) are not imported.
                       --from-valkey-password (or FLOWHIST_IMPORT_VALKEY_PASSWORD),
                       --from-valkey-username, --from-valkey-db, --from-valkey-tls,
                       --from-valkey-tls-ca-file as for flowhist's own Valkey.
  --from-userdir DIR   a Node-RED userDir: the flow file (the active project's,
                       settings.js's flowFile, flows.json or flows_<host>.json;
                       --flow-file NAME to choose), its _cred file as it is
                       (still encrypted), .config.runtime.json without
                       _credentialSecret, .config.nodes.json, .config.users.json,
                       .config.projects.json, and lib/.
  --from-export PATH   what flowhist export wrote: a history bundle (export
                       --history, replayed event by event), a flows file (-o)
                       or a directory (--dir).

Everything is read and validated before the first append: a bad source fails
with one line saying what and where, and nothing is imported. The namespace
must be empty, or --if-match REV must name its current revision. Running the
same import again appends nothing: each item's correlation id holds a hash of
its content, and items already in the namespace's history are skipped (each
append also carries an Idempotency-Key from the same hash, so a retry after a
failure is safe). --dry-run shows what would be imported and appends nothing.
` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c config
			readOptions(v, &c)
			o.valkey.Password = firstNonEmpty(o.valkey.Password, c.importValkeyPassword)
			return m.runImport(cmd, v, o)
		},
	}
	f := cmd.Flags()
	addClientFlags(f)
	f.StringVar(&o.fromValkey, "from-valkey", "", "import the old module's keys from the Valkey at host:port")
	f.StringVar(&o.fromUserDir, "from-userdir", "", "import a Node-RED userDir")
	f.StringVar(&o.fromExport, "from-export", "", "import what flowhist export wrote (a history bundle, a flows file or a --dir directory)")
	f.StringVar(&o.prefix, "prefix", "nodered:", "the old module's key prefix (--from-valkey)")
	f.StringVar(&o.valkey.Username, "from-valkey-username", "", "the source Valkey's ACL user")
	f.StringVar(&o.valkey.Password, "from-valkey-password", "", "the source Valkey's password (better: env FLOWHIST_IMPORT_VALKEY_PASSWORD)")
	f.IntVar(&o.valkey.DB, "from-valkey-db", 0, "the source Valkey's database number")
	f.BoolVar(&o.valkey.TLS, "from-valkey-tls", false, "connect to the source Valkey with TLS")
	f.StringVar(&o.valkey.TLSCAFile, "from-valkey-tls-ca-file", "", "PEM CA for the source Valkey's certificate (default: system CAs)")
	f.StringVar(&o.flowFile, "flow-file", "", "the flow file in the userDir, when it cannot be told (--from-userdir)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would be imported; append nothing")
	f.Uint64Var(&o.ifMatch, "if-match", 0, "import onto a namespace that is not empty, if it is at this revision")
	return cmd
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// readSource reads and validates the one source o names.
func readSource(ctx context.Context, o importOptions) (*importSource, error) {
	n := 0
	for _, s := range []string{o.fromValkey, o.fromUserDir, o.fromExport} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, domain.Errorf(domain.EINVALID, "import needs exactly one of --from-valkey ADDR, --from-userdir DIR and --from-export PATH")
	}
	switch {
	case o.fromValkey != "":
		c := o.valkey
		c.Addr = o.fromValkey
		c.DialTimeout, c.IOTimeout = 5*time.Second, 10*time.Second
		return readValkeySource(ctx, c, o.prefix)
	case o.fromUserDir != "":
		return readUserDirSource(o.fromUserDir, o.flowFile)
	default:
		return readExportSource(o.fromExport)
	}
}

func (m *Main) runImport(cmd *cobra.Command, v *viper.Viper, o importOptions) error {
	ctx := cmd.Context()
	c, err := newClient(v)
	if err != nil {
		return err
	}
	src, err := readSource(ctx, o)
	if err != nil {
		return err
	}
	nsRev, done, err := importState(ctx, c)
	if err != nil {
		return err
	}
	var todo []importItem
	for _, it := range src.items {
		if done[it.hash()] == 0 {
			todo = append(todo, it)
		}
	}
	// A namespace whose every event an earlier run of this same import
	// appended is one to finish, not one to import onto.
	ours := 0
	for _, it := range src.items {
		ours += done[it.hash()]
		delete(done, it.hash())
	}
	resumed := ours > 0 && domain.Revision(ours) == nsRev
	report := importReport{
		Namespace: c.Namespace(), Source: src.desc, Revision: nsRev, Items: len(src.items),
		AlreadyImported: len(src.items) - len(todo), Notes: src.notes, DryRun: o.dryRun,
		ToImport: make([]string, len(todo)),
	}
	for i, it := range todo {
		report.ToImport[i] = it.what
	}
	if o.dryRun {
		if jsonFlag(cmd) {
			return printAnswer(m.Stdout, report)
		}
		fmt.Fprintf(m.Stdout, "dry run: %d of %d items from %s would be imported into %s (now at revision %d); nothing appended\n",
			len(todo), len(src.items), src.desc, c.Namespace(), nsRev)
		printItems(m.Stdout, todo, src.notes)
		return nil
	}
	if len(todo) == 0 {
		if jsonFlag(cmd) {
			report.Imported = new(int)
			return printAnswer(m.Stdout, report)
		}
		fmt.Fprintf(m.Stdout, "nothing to import: all %d items from %s are already in %s\n", len(src.items), src.desc, c.Namespace())
		return nil
	}
	switch {
	case cmd.Flags().Changed("if-match") && domain.Revision(o.ifMatch) != nsRev:
		return domain.Errorf(domain.ECONFLICT, "namespace %s is at revision %d, not %d (--if-match): nothing imported", c.Namespace(), nsRev, o.ifMatch)
	case !cmd.Flags().Changed("if-match") && nsRev > 0 && !resumed:
		return domain.Errorf(domain.ECONFLICT, "namespace %s is not empty (revision %d): import onto it with --if-match %d, or into a new namespace; nothing imported", c.Namespace(), nsRev, nsRev)
	}
	bar := newImportProgress(m.Stderr, len(todo))
	var first, last domain.Revision
	for i, it := range todo {
		w := client.Write{Claimed: it.claimed, CorrelationID: src.correlationID(it), IdempotencyKey: "import-" + it.hash()}
		res, err := it.send(ctx, c, w)
		if err != nil {
			bar.done()
			return domain.Errorf(domain.ErrorCode(err), "importing %s (item %d of %d): %s; %d items were imported before it: run the same import again to finish",
				it.what, i+1, len(todo), errMessage(err), i)
		}
		if first == 0 {
			first = res.Revision
		}
		last = max(last, res.Revision)
		bar.update(i+1, it.what)
	}
	bar.done()
	if jsonFlag(cmd) {
		imported := len(todo)
		report.Imported, report.FirstRevision, report.LastRevision = &imported, first, last
		return printAnswer(m.Stdout, report)
	}
	fmt.Fprintf(m.Stdout, "imported %d items from %s into %s as revisions %d–%d\n", len(todo), src.desc, c.Namespace(), first, last)
	for _, n := range src.notes {
		fmt.Fprintf(m.Stdout, "  note: %s\n", n)
	}
	return nil
}

func errMessage(err error) string {
	if de, ok := err.(*domain.Error); ok {
		return de.Message
	}
	return err.Error()
}

func printItems(w io.Writer, items []importItem, notes []string) {
	for _, it := range items {
		fmt.Fprintf(w, "  %-11s %s\n", it.kind, it.what)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// importState reads the namespace's revision and the hashes of the items
// earlier imports appended (from the correlation ids of the events
// "import <hash> from …"), with how many events each has (a settings save
// may append packages.changed too).
func importState(ctx context.Context, c *client.Client) (domain.Revision, map[string]int, error) {
	head, err := c.History(ctx, client.HistoryQuery{Page: client.Page{Limit: 1}})
	if err != nil {
		return 0, nil, err
	}
	var rev domain.Revision
	if len(head.Entries) > 0 {
		rev = head.Entries[0].Revision
	}
	done := map[string]int{}
	q := client.HistoryQuery{Page: client.Page{Limit: 500}}
	for rev > 0 {
		p, err := c.History(ctx, q)
		if err != nil {
			return 0, nil, err
		}
		for _, e := range p.Entries {
			if f := strings.Fields(e.CorrelationID); len(f) >= 2 && f[0] == "import" {
				done[f[1]]++
			}
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	return rev, done, nil
}

// importProgress is the progress line: redrawn in place on a terminal, one
// line per 10% elsewhere.
type importProgress struct {
	w        io.Writer
	total    int
	terminal bool
	tenths   int
	drawn    bool
}

func newImportProgress(w io.Writer, total int) *importProgress {
	return &importProgress{w: w, total: total, terminal: isTerminal(w), tenths: -1}
}

func (p *importProgress) update(done int, what string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[Kimport: %d/%d %s", done, p.total, what)
		p.drawn = true
		return
	}
	if t := done * 10 / p.total; t > p.tenths {
		p.tenths = t
		fmt.Fprintf(p.w, "import: %d/%d items (%d%%)\n", done, p.total, done*100/p.total)
	}
}

func (p *importProgress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// Item builders, shared by the sources.

func deployItem(flows, creds []byte, what, origin string) importItem {
	body := []byte(`{"flows":` + string(flows))
	if creds != nil {
		body = append(body, `,"credentials":`...)
		body = append(body, creds...)
	}
	body = append(body, '}')
	return importItem{kind: "flows", what: what, method: http.MethodPost, path: "/deploy", body: body, origin: origin}
}

// settingsSource checks a source's settings document (where names it in
// errors) and returns it as an item, saying how many user-installed
// modules its node registry lists.
func settingsSource(where string, doc []byte) (importItem, error) {
	s, err := checkSettings(where, doc)
	if err != nil {
		return importItem{}, err
	}
	what := "settings"
	if pk, ok := domain.PackagesFromSettings(s); ok {
		what = fmt.Sprintf("settings (node registry: %d user-installed modules)", len(pk))
	}
	return settingsItem(s, what, ""), nil
}

func settingsItem(settings []byte, what, origin string) importItem {
	return importItem{kind: "settings", what: what, method: http.MethodPut, path: "/settings", body: settings, origin: origin}
}

func libraryItem(e domain.LibraryEntry, origin string) importItem {
	meta := e.Meta
	if meta == nil {
		meta = json.RawMessage("{}")
	}
	body, _ := json.Marshal(struct {
		Meta json.RawMessage `json:"meta"`
		Body string          `json:"body"`
	}{meta, e.Body})
	return importItem{kind: "library", what: "library " + e.Type + "/" + e.Path, method: http.MethodPut,
		path: "/library/" + url.PathEscape(e.Type), query: url.Values{"path": {e.Path}}, body: body, origin: origin}
}

func projectItem(name, origin string) importItem {
	body, _ := json.Marshal(map[string]string{"name": name})
	return importItem{kind: "project", what: fmt.Sprintf("active project %q", name), method: http.MethodPut, path: "/project", body: body, origin: origin}
}

// flowsWhat summarises a flows document for the dry run.
func flowsWhat(f *domain.Flows, creds []byte) string {
	tabs, subflows := 0, 0
	for _, n := range f.Nodes() {
		switch n.Type {
		case "tab":
			tabs++
		case "subflow":
			subflows++
		}
	}
	s := fmt.Sprintf("flows: %d nodes, %d tabs, %d subflows, sha256 %.12s", f.Len(), tabs, subflows, f.SHA256())
	if creds != nil {
		s += ", with credentials"
	}
	return s
}

// checkFlows validates a flows document as the API will, naming where it
// came from.
func checkFlows(where string, doc []byte) (*domain.Flows, error) {
	f, err := domain.ParseFlowsInput(doc)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: invalid flows: %s", where, errMessage(err))
	}
	return f, nil
}

// checkObject validates a JSON object document, naming where it came from.
func checkObject(where, what string, doc []byte) ([]byte, error) {
	b, err := domain.CanonicalObject(what, doc)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %s", where, errMessage(err))
	}
	return b, nil
}

// checkSettings validates settings and drops _credentialSecret, which never
// leaves the source.
func checkSettings(where string, doc []byte) ([]byte, error) {
	b, err := domain.CanonicalSettings(doc)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %s", where, errMessage(err))
	}
	return b, nil
}

// checkLibrary validates a library entry's type and path.
func checkLibrary(where string, e domain.LibraryEntry) error {
	if err := domain.ValidateLibraryType(e.Type); err != nil {
		return domain.Errorf(domain.EINVALID, "%s: %s", where, errMessage(err))
	}
	if err := domain.ValidateLibraryPath(e.Path); err != nil {
		return domain.Errorf(domain.EINVALID, "%s: %s", where, errMessage(err))
	}
	if !utf8.ValidString(e.Body) {
		return domain.Errorf(domain.EINVALID, "%s: the body is not valid UTF-8", where)
	}
	return nil
}
