package e2e_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// redSettings is what a test varies in a Node-RED's settings.js. settingsJS
// is the one template that writes it: everything a test does not vary
// (loopback only, no telemetry, no tours, console logging) is the same for
// every Node-RED the tests start.
type redSettings struct {
	port int
	// secret is credentialSecret; "" leaves it out, and Node-RED generates
	// one (kept in .config.runtime.json).
	secret string
	// storage is the directory of the storage module to require; "" is
	// Node-RED's own file storage, in flows.json.
	storage string
	// optionsKey and options are the storage module's options, written as
	// JSON under that key ("flowhist", or the old module's "valkey").
	optionsKey string
	options    any
	// nodesDir, when set, is loaded as a nodes directory (the module's
	// editor plugin).
	nodesDir string
	// users are adminAuth's users, name → permissions, each with
	// editorPassword; nil is editorUser with "*".
	users map[string]string
	// noAuth leaves adminAuth out; worker turns the editor and Admin API
	// off (httpAdminRoot: false) instead.
	noAuth, worker bool
	// projects turns Node-RED Projects on.
	projects bool
}

// settingsJS is s as a settings.js file.
func settingsJS(s redSettings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module.exports = {\n  uiHost: \"127.0.0.1\",\n  uiPort: %d,\n", s.port)
	if s.secret != "" {
		fmt.Fprintf(&b, "  credentialSecret: %q,\n", s.secret)
	}
	if s.storage == "" {
		b.WriteString("  flowFile: \"flows.json\",\n")
	} else {
		fmt.Fprintf(&b, "  storageModule: require(%q),\n", s.storage)
	}
	if s.nodesDir != "" {
		fmt.Fprintf(&b, "  nodesDir: [%q],\n", s.nodesDir)
	}
	if s.optionsKey != "" {
		opts, _ := json.Marshal(s.options)
		fmt.Fprintf(&b, "  %s: %s,\n", s.optionsKey, opts)
	}
	switch {
	case s.worker:
		b.WriteString("  httpAdminRoot: false,\n")
	case !s.noAuth:
		users := s.users
		if users == nil {
			users = map[string]string{editorUser: "*"}
		}
		var list []string
		for _, u := range slices.Sorted(maps.Keys(users)) {
			list = append(list, fmt.Sprintf("{ username: %q, password: %q, permissions: %q }", u, editorHash, users[u]))
		}
		fmt.Fprintf(&b, "  adminAuth: { type: \"credentials\", users: [%s] },\n", strings.Join(list, ", "))
	}
	fmt.Fprintf(&b, `  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  editorTheme: { tours: false, projects: { enabled: %t } },
  logging: { console: { level: "info", metrics: false, audit: false } },
};
`, s.projects)
	return b.String()
}

// redLaunch is how launchRed starts a Node-RED besides its settings.
type redLaunch struct {
	red redRuntime
	// npmProject makes the userDir an npm project of its own: Node-RED
	// installs palette modules there with npm.
	npmProject bool
	// env is added to the process's environment.
	env []string
}

// launchRed starts Node-RED (l.red) named prefix-<port> in a new userDir
// under dir, with settings.js from s on a free port, and waits until it
// answers HTTP.
func launchRed(tb testing.TB, dir, prefix string, s redSettings, l redLaunch) *nodeRed {
	tb.Helper()
	node, red := nodeRED(tb, l.red)
	s.port = freePort(tb)
	name := fmt.Sprintf("%s-%d", prefix, s.port)
	userDir := filepath.Join(dir, name)
	if err := os.MkdirAll(userDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if l.npmProject {
		if err := os.WriteFile(filepath.Join(userDir, "package.json"), []byte(`{"name":"node-red-project","private":true,"dependencies":{}}`), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	settings := filepath.Join(userDir, "settings.js")
	if err := os.WriteFile(settings, []byte(settingsJS(s)), 0o600); err != nil {
		tb.Fatal(err)
	}
	env := l.env
	if l.red.nodeDir != "" {
		env = append(slices.Clone(env), "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	n := &nodeRed{URL: fmt.Sprintf("http://127.0.0.1:%d", s.port), userDir: userDir}
	n.proc = startProc(tb, name, dir, env, node, red, "--userDir", userDir, "--settings", settings)
	n.waitUp(tb)
	return n
}
