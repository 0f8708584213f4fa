package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/redis/rueidis"
)

// oldPackagesKey is where node-red-storage-valkey keeps package names,
// whatever its prefix.
const oldPackagesKey = "nodered:packages"

// readValkeySource reads the old module's keys under prefix. Flows must be
// there; credentials, settings, library entries and the active project are
// imported when present. Sessions are live editor tokens: never imported.
func readValkeySource(ctx context.Context, c ValkeyConfig, prefix string) (*importSource, error) {
	src := &importSource{desc: fmt.Sprintf("valkey %s db %d prefix %s", c.Addr, c.DB, prefix)}
	rc, err := dialSourceValkey(c)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	where := func(key string) string { return fmt.Sprintf("%s in Valkey at %s db %d", key, c.Addr, c.DB) }
	// get reads and decodes one key; nil if it does not exist.
	get := func(key string) ([]byte, error) {
		v, err := rc.Do(ctx, rc.B().Get().Key(key).Build()).AsBytes()
		if rueidis.IsRedisNil(err) {
			return nil, nil
		}
		if err != nil {
			return nil, sourceValkeyError(c, err)
		}
		doc, err := projector.DecodeCompat(v)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: the gzip: value does not decode: %v", where(key), err)
		}
		if !json.Valid(doc) {
			return nil, domain.Errorf(domain.EINVALID, "%s: the value is not JSON (%.40q…)", where(key), doc)
		}
		return doc, nil
	}

	flowsKey := prefix + "flows"
	raw, err := get(flowsKey)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		n := countKeys(ctx, rc, prefix)
		return nil, domain.Errorf(domain.ENOTFOUND, "%s: no such key, nothing to import (%d keys start with %q: check --prefix and --from-valkey-db)", where(flowsKey), n, prefix)
	}
	doc, err := oldFlowsDoc(raw)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %v", where(flowsKey), err)
	}
	flows, err := checkFlows(where(flowsKey), doc)
	if err != nil {
		return nil, err
	}
	credsKey := prefix + "credentials"
	creds, err := get(credsKey)
	if err != nil {
		return nil, err
	}
	if creds != nil {
		if creds, err = checkObject(where(credsKey), "credentials", creds); err != nil {
			return nil, err
		}
	}
	src.items = append(src.items, deployItem(flows.Bytes(), creds, flowsWhat(flows, creds), ""))

	settingsKey := prefix + "settings"
	settings, err := get(settingsKey)
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
			s, err := checkSettings(where(settingsKey), settings)
			if err != nil {
				return nil, err
			}
			what := "settings"
			if pk, ok := domain.PackagesFromSettings(s); ok {
				what = fmt.Sprintf("settings (node registry: %d user-installed modules)", len(pk))
			}
			src.items = append(src.items, settingsItem(s, what, ""))
		}
	}

	libKeys, err := scanKeys(ctx, rc, prefix+"library:")
	if err != nil {
		return nil, sourceValkeyError(c, err)
	}
	for _, key := range libKeys {
		rest := strings.TrimPrefix(key, prefix+"library:")
		typ, path, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, domain.Errorf(domain.EINVALID, "%s: the key is not %slibrary:<type>:<path>", where(key), prefix)
		}
		v, err := get(key)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue // deleted since the scan
		}
		e, err := oldLibraryEntry(typ, path, v)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", where(key), err)
		}
		if err := checkLibrary(where(key), e); err != nil {
			return nil, err
		}
		src.items = append(src.items, libraryItem(e, ""))
	}

	projKey := prefix + "activeProject"
	proj, err := get(projKey)
	if err != nil {
		return nil, err
	}
	if proj != nil {
		var p struct {
			Name *string `json:"name"`
		}
		if json.Unmarshal(proj, &p) != nil || p.Name == nil {
			return nil, domain.Errorf(domain.EINVALID, `%s: the value is not {"name": "…", "updated": …}`, where(projKey))
		}
		if err := domain.ValidateLabel("project name", *p.Name, 255); err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %s", where(projKey), errMessage(err))
		}
		src.items = append(src.items, projectItem(*p.Name, ""))
	}

	pk, err := get(oldPackagesKey)
	if err != nil {
		return nil, err
	}
	if pk != nil {
		var names []string
		json.Unmarshal(pk, &names)
		src.note("%s lists %d packages by name only (%s): flowhist records installed modules with their versions from the admin's node registry (settings), so this key is not imported", oldPackagesKey, len(names), strings.Join(names, ", "))
	}
	if n, _ := rc.Do(ctx, rc.B().Exists().Key(prefix+"sessions").Build()).AsInt64(); n > 0 {
		src.note("%ssessions not imported: they are live editor tokens (users log in again on the new admin)", prefix)
	}
	return src, nil
}

// oldFlowsDoc returns the flows array of the old module's flows value:
// {"flows": [...], "rev": "…"} or a bare array.
func oldFlowsDoc(v []byte) ([]byte, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '[' {
		return v, nil
	}
	var obj struct {
		Flows json.RawMessage `json:"flows"`
	}
	if err := json.Unmarshal(v, &obj); err != nil || len(obj.Flows) == 0 || obj.Flows[0] != '[' {
		return nil, fmt.Errorf(`the value is neither {"flows": [...], "rev": …} nor a flows array`)
	}
	return obj.Flows, nil
}

// oldLibraryEntry reads the old module's library value: the entry's meta
// properties with the body as "fn".
func oldLibraryEntry(typ, path string, v []byte) (domain.LibraryEntry, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return domain.LibraryEntry{}, fmt.Errorf(`the value is not a JSON object {…meta, "fn": body}`)
	}
	var body string
	if fn, ok := m["fn"]; ok {
		if err := json.Unmarshal(fn, &body); err != nil {
			return domain.LibraryEntry{}, fmt.Errorf(`"fn" (the entry's body) is not a string`)
		}
		delete(m, "fn")
	}
	meta, _ := json.Marshal(m)
	return domain.LibraryEntry{Type: typ, Path: path, Meta: meta, Body: body}, nil
}

// dialSourceValkey connects to the source Valkey with c's options.
func dialSourceValkey(c ValkeyConfig) (rueidis.Client, error) {
	opt := rueidis.ClientOption{
		InitAddress:      []string{c.Addr},
		Username:         c.Username,
		Password:         c.Password,
		SelectDB:         c.DB,
		Dialer:           net.Dialer{Timeout: c.DialTimeout},
		ConnWriteTimeout: c.IOTimeout,
	}
	if c.TLS {
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, domain.Errorf(domain.EINVALID, "--from-valkey-tls-ca-file: %v", err)
			}
			opt.TLSConfig.RootCAs = x509.NewCertPool()
			if !opt.TLSConfig.RootCAs.AppendCertsFromPEM(pem) {
				return nil, domain.Errorf(domain.EINVALID, "--from-valkey-tls-ca-file %s has no PEM certificate", c.TLSCAFile)
			}
		}
	}
	rc, err := streams.NewClient(opt)
	if err != nil {
		return nil, sourceValkeyError(c, err)
	}
	return rc, nil
}

// sourceValkeyError says that the source Valkey failed, and where.
func sourceValkeyError(c ValkeyConfig, err error) error {
	code := domain.EUNAVAILABLE
	msg := err.Error()
	if strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "NOPERM") {
		code = domain.EUNAUTHORIZED
	}
	return domain.Errorf(code, "cannot read the source Valkey at %s db %d (--from-valkey): %s", c.Addr, c.DB, strings.TrimSpace(msg))
}

// scanKeys lists the keys starting with prefix, sorted.
func scanKeys(ctx context.Context, rc rueidis.Client, prefix string) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		e, err := rc.Do(ctx, rc.B().Scan().Cursor(cursor).Match(globEscape(prefix)+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return nil, err
		}
		keys = append(keys, e.Elements...)
		cursor = e.Cursor
		if cursor == 0 {
			break
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func countKeys(ctx context.Context, rc rueidis.Client, prefix string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	keys, _ := scanKeys(ctx, rc, prefix)
	return len(keys)
}

// globEscape escapes the glob characters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
