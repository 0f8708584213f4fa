package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/oldmodule"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
)

// readValkeySource reads the old module's keys under prefix. Flows must be
// there; credentials, settings, library entries and the active project are
// imported when present. Sessions are live editor tokens: never imported.
func readValkeySource(ctx context.Context, c streams.DialConfig, prefix string) (*importSource, error) {
	src := &importSource{desc: fmt.Sprintf("valkey %s db %d prefix %s", c.Addr, c.DB, prefix)}
	rc, err := dialSourceValkey(c)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	old := streams.NewOldModule(rc, prefix)
	where := func(key string) string { return fmt.Sprintf("%s in Valkey at %s db %d", key, c.Addr, c.DB) }
	// get reads and decodes one of the module's keys by name; nil if it
	// does not exist.
	get := func(name string) ([]byte, error) {
		key := old.Key(name)
		v, err := old.Get(ctx, name)
		if name == "packages" {
			key = streams.CompatPackagesKey
			v, err = old.Packages(ctx)
		}
		if err != nil {
			return nil, sourceValkeyError(c, err)
		}
		if v == nil {
			return nil, nil
		}
		doc, err := oldmodule.DecodeJSON(v)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", where(key), err)
		}
		return doc, nil
	}

	flowsKey := old.Key("flows")
	raw, err := get("flows")
	if err != nil {
		return nil, err
	}
	if raw == nil {
		n := countKeys(ctx, old)
		return nil, domain.Errorf(domain.ENOTFOUND, "%s: no such key, nothing to import (%d keys start with %q: check --prefix and --from-valkey-db)", where(flowsKey), n, prefix)
	}
	fv, err := oldmodule.ParseFlows(raw)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %v", where(flowsKey), err)
	}
	flows, err := checkFlows(where(flowsKey), fv.Flows)
	if err != nil {
		return nil, err
	}
	credsKey := old.Key("credentials")
	creds, err := get("credentials")
	if err != nil {
		return nil, err
	}
	if creds != nil {
		if creds, err = checkObject(where(credsKey), "credentials", creds); err != nil {
			return nil, err
		}
	}
	src.items = append(src.items, deployItem(flows.Bytes(), creds, flowsWhat(flows, creds), ""))

	settingsKey := old.Key("settings")
	settings, err := get("settings")
	if err != nil {
		return nil, err
	}
	if settings != nil {
		var probe map[string]json.RawMessage
		if json.Unmarshal(settings, &probe) != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: the settings are not a JSON object", where(settingsKey))
		}
		_, hasNodes := probe["nodes"]
		_, hasInstance := probe["instanceId"]
		switch {
		case !hasNodes && hasInstance:
			src.note("%s holds no node registry, only what the old module's workers write over it at start-up ({instanceId, …}): not imported (the admin on flowhist saves its own settings)", settingsKey)
		default:
			if _, ok := probe[domain.CredentialSecretKey]; ok {
				src.note("%s holds a generated _credentialSecret: not imported; set credentialSecret in every instance's settings.js (docs/migrating.md)", settingsKey)
			}
			it, err := settingsSource(src, where(settingsKey), settings)
			if err != nil {
				return nil, err
			}
			src.items = append(src.items, it)
		}
	}

	libNames, err := old.Names(ctx, "library:")
	if err != nil {
		return nil, sourceValkeyError(c, err)
	}
	for _, name := range libNames {
		key := old.Key(name)
		typ, path, ok := strings.Cut(strings.TrimPrefix(name, "library:"), ":")
		if !ok {
			return nil, domain.Errorf(domain.EINVALID, "%s: the key is not %slibrary:<type>:<path>", where(key), prefix)
		}
		v, err := get(name)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue // deleted since the scan
		}
		e, err := oldmodule.ParseLibrary(typ, path, v)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", where(key), err)
		}
		if err := checkLibrary(where(key), e); err != nil {
			return nil, err
		}
		src.items = append(src.items, libraryItem(e, ""))
	}

	projKey := old.Key("activeProject")
	proj, err := get("activeProject")
	if err != nil {
		return nil, err
	}
	if proj != nil {
		name, err := oldmodule.ParseProject(proj)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", where(projKey), err)
		}
		if err := domain.ValidateLabel("project name", name, 255); err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %s", where(projKey), errMessage(err))
		}
		src.items = append(src.items, projectItem(name, ""))
	}

	pk, err := get("packages")
	if err != nil {
		return nil, err
	}
	if pk != nil {
		names := oldmodule.ParsePackages(pk)
		src.note("%s lists %d packages by name only (%s): flowhist records installed modules with their versions from the admin's node registry (settings), so this key is not imported", streams.CompatPackagesKey, len(names), strings.Join(names, ", "))
	}
	if has, _ := old.Has(ctx, "sessions"); has {
		src.note("%ssessions not imported: they are live editor tokens (users log in again on the new admin)", prefix)
	}
	return src, nil
}

// dialSourceValkey connects to the source Valkey with c's options.
func dialSourceValkey(c streams.DialConfig) (rueidis.Client, error) {
	rc, err := streams.Dial(c)
	if errors.Is(err, streams.ErrTLSCAFile) {
		return nil, domain.Errorf(domain.EINVALID, "--from-valkey-tls-ca-file: %s", domain.ErrorMessage(err))
	}
	if err != nil {
		return nil, sourceValkeyError(c, err)
	}
	return rc, nil
}

// sourceValkeyError says that the source Valkey failed, and where, with
// the failure's own code (unreachable: 6; credentials refused: 5).
func sourceValkeyError(c streams.DialConfig, err error) error {
	detail := domain.ErrorMessage(err)
	var de *domain.Error
	if errors.As(err, &de) && de.Err != nil {
		detail += ": " + de.Err.Error() // the client's own words: a TLS or network failure
	}
	return domain.Errorf(domain.ErrorCode(err), "cannot read the source Valkey at %s db %d (--from-valkey): %s", c.Addr, c.DB, detail)
}

// countKeys counts the old module's keys, for a message: 0 when it cannot.
func countKeys(ctx context.Context, old *streams.OldModule) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	names, _ := old.Names(ctx, "")
	return len(names)
}
