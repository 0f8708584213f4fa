package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/flowhist/flowhist/bundle"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/userdir"
)

// readExportSource reads what flowhist export wrote: a history bundle
// (--history), a flows file (-o) or a directory (--dir).
func readExportSource(path string) (*importSource, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "--from-export %s: %v", path, err)
	}
	if st.IsDir() {
		return readExportDir(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "--from-export %s: %v", path, err)
	}
	src := &importSource{desc: "export " + path}
	t := bytes.TrimSpace(data)
	switch {
	case len(t) > 0 && t[0] == '[':
		f, err := checkFlows(path, t)
		if err != nil {
			return nil, err
		}
		src.items = append(src.items, deployItem(f.Bytes(), nil, flowsWhat(f, nil), ""))
		src.note("a flows file holds no credentials, settings or library: only the flows are imported")
		return src, nil
	case len(t) > 0 && t[0] == '{':
		return readBundle(path, data)
	}
	return nil, domain.Errorf(domain.EINVALID, "%s: neither a flows array (export -o) nor a history bundle (export --history)", path)
}

// readBundle turns a history bundle into one item per event, in log order.
func readBundle(path string, data []byte) (*importSource, error) {
	r, err := bundle.NewReader(bytes.NewReader(data), path)
	if err != nil {
		return nil, err
	}
	h := r.Header
	src := &importSource{desc: fmt.Sprintf("export %s (%s@%d)", filepath.Base(path), h.Namespace, h.Revision)}
	skippedPackages, skippedRollout := 0, 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		where := r.Where()
		origin := fmt.Sprintf(" rev %d %s by %s", e.Revision, e.Type, e.Actor.User)
		var it importItem
		switch e.Type {
		case domain.FlowsDeployed, domain.FlowsRolledBack:
			f, err := checkFlows(where, e.Flows)
			if err != nil {
				return nil, err
			}
			creds, err := bundleCreds(where, e.Credentials)
			if err != nil {
				return nil, err
			}
			it = deployItem(f.Bytes(), creds, fmt.Sprintf("rev %d %s: %s", e.Revision, e.Type, flowsWhat(f, creds)), origin)
		case domain.CredentialsSaved:
			creds, err := bundleCreds(where, e.Credentials)
			if err != nil {
				return nil, err
			}
			if creds == nil {
				creds = []byte("{}")
			}
			it = importItem{kind: "credentials", what: fmt.Sprintf("rev %d credentials", e.Revision), method: "PUT", path: "/credentials", body: creds, origin: origin}
		case domain.SettingsSaved:
			s, err := checkSettings(src, where, e.Settings)
			if err != nil {
				return nil, err
			}
			it = settingsItem(s, fmt.Sprintf("rev %d settings", e.Revision), origin)
		case domain.LibrarySaved:
			if err := checkLibrary(where, *e.Entry); err != nil {
				return nil, err
			}
			it = libraryItem(*e.Entry, origin)
			it.what = fmt.Sprintf("rev %d %s", e.Revision, it.what)
		case domain.ProjectActivated:
			it = projectItem(*e.Project, origin)
			it.what = fmt.Sprintf("rev %d %s", e.Revision, it.what)
		case domain.PackagesChanged:
			// Implied by the settings event before it: the import's own
			// settings save appends it again.
			skippedPackages++
			continue
		case domain.RolloutPolicySet, domain.RolloutStarted, domain.RolloutPromoted, domain.RolloutPaused, domain.RolloutResumed, domain.RolloutFailed, domain.RolloutAborted, domain.RolloutCompleted:
			// A staged rollout's steps belong to the source's workers; the
			// flows events they led to are replayed as they are.
			skippedRollout++
			continue
		default:
			return nil, domain.Errorf(domain.EINVALID, "%s: unknown event type %q", where, e.Type)
		}
		if it.claimed, err = bundleClaim(where, e); err != nil {
			return nil, err
		}
		src.items = append(src.items, it)
	}
	if skippedRollout > 0 {
		src.note("%d rollout events (a staged rollout's steps) are not replayed: set the target's rollout policy with flowhist rollout policy", skippedRollout)
	}
	if skippedPackages > 0 {
		src.note("%d packages.changed events are not replayed as such: each follows from the settings save before it, which import replays", skippedPackages)
	}
	if len(src.items) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "%s: the bundle holds no events", path)
	}
	if c := h.Chain; c != nil && c.Head != "" {
		// The target's chain is its own; its last imported event names
		// where the source's ended.
		src.items[len(src.items)-1].origin += "; source head " + c.Head
		src.note("the source's hash chain ends at revision %d with link %s: the import starts a new chain, and its last event's correlation id records that link", h.Revision, c.Head)
	}
	return src, nil
}

func bundleCreds(where string, c json.RawMessage) ([]byte, error) {
	if len(c) == 0 || string(c) == "null" {
		return nil, nil
	}
	return checkObject(where, "credentials", c)
}

// readExportDir reads what export --dir wrote (userdir.ReadTabs): the
// flows alone.
func readExportDir(dir string) (*importSource, error) {
	doc, err := userdir.ReadTabs(dir)
	if err != nil {
		return nil, err
	}
	flows, err := checkFlows(dir, doc)
	if err != nil {
		return nil, err
	}
	src := &importSource{desc: "export dir " + dir}
	src.items = append(src.items, deployItem(flows.Bytes(), nil, flowsWhat(flows, nil), ""))
	src.note("an export --dir holds no credentials, settings or library, and not the node order across files: only the flows are imported")
	return src, nil
}

// bundleClaim is who a bundle's event says acted: the claim it carries
// from an earlier import, else its actor and token. A claim that is not
// text is refused here, before anything is appended.
func bundleClaim(where string, e bundle.Event) (*domain.Claim, error) {
	c := domain.Claim{User: e.Actor.User, Token: e.Token, Channel: e.Actor.Channel}
	if e.Claimed != nil {
		c = *e.Claimed
	}
	if c.IsZero() {
		return nil, nil
	}
	if err := c.Validate(where + ": the event's actor"); err != nil {
		return nil, err
	}
	return &c, nil
}
