package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
)

// libraryPath reads the library type and path (without its leading and
// trailing slashes) of a request, as domain.ValidateLibraryType and
// ValidateLibraryPath allow them.
func libraryPath(r *http.Request) (typ, path string, err error) {
	typ, path = r.PathValue("type"), strings.Trim(r.URL.Query().Get("path"), "/")
	if err := domain.ValidateLibraryType(typ); err != nil {
		return "", "", err
	}
	if err := domain.ValidateLibraryPath(path); err != nil {
		return "", "", err
	}
	return typ, path, nil
}

// getLibrary answers an entry ({"body", "meta"}) or a directory listing
// ({"listing": [subdirectories…, {"fn": name, …meta}…]}, as Node-RED's
// library expects: directories first, then files, each sorted by name).
func (s *Server) getLibrary(w http.ResponseWriter, r *http.Request) error {
	typ, path, err := libraryPath(r)
	if err != nil {
		return err
	}
	var entry *domain.LibraryEntry
	var dirs []string
	var files []domain.LibraryEntry
	err = s.proj.View(r.Context(), r.PathValue("ns"), func(st *domain.State) error {
		if e, ok := st.Library[domain.LibraryAggregate(typ, path)]; ok && path != "" {
			entry = &e
			return nil
		}
		prefix := ""
		if path != "" {
			prefix = path + "/"
		}
		seen := map[string]bool{}
		for _, e := range st.Library {
			rest, ok := strings.CutPrefix(e.Path, prefix)
			if e.Type != typ || !ok {
				continue
			}
			if dir, _, deeper := strings.Cut(rest, "/"); deeper {
				if !seen[dir] {
					seen[dir] = true
					dirs = append(dirs, dir)
				}
			} else {
				files = append(files, e)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if entry != nil {
		meta := entry.Meta
		if meta == nil {
			meta = json.RawMessage("{}")
		}
		writeJSON(w, http.StatusOK, LibraryEntry{Body: entry.Body, Meta: meta})
		return nil
	}
	if len(dirs) == 0 && len(files) == 0 && path != "" {
		return domain.Errorf(domain.ENOTFOUND, "library %s has no entry or directory %q", typ, path)
	}
	slices.Sort(dirs)
	slices.SortFunc(files, func(a, b domain.LibraryEntry) int { return strings.Compare(a.Path, b.Path) })
	listing := make([]any, 0, len(dirs)+len(files))
	for _, d := range dirs {
		listing = append(listing, d)
	}
	for _, f := range files {
		item := map[string]any{}
		// UseNumber: a number beyond float64 stays as it was saved.
		dec := json.NewDecoder(bytes.NewReader(f.Meta))
		dec.UseNumber()
		dec.Decode(&item)
		item["fn"] = f.Path[strings.LastIndex(f.Path, "/")+1:]
		listing = append(listing, item)
	}
	writeJSON(w, http.StatusOK, LibraryListing{Listing: listing})
	return nil
}

// putLibrary saves one library entry: {"meta": {...}, "body": "..."}.
func (s *Server) putLibrary(w http.ResponseWriter, r *http.Request) error {
	typ, path, err := libraryPath(r)
	if err != nil {
		return err
	}
	if path == "" {
		return domain.Errorf(domain.EINVALID, "library path is empty: send ?path=<dir/name>")
	}
	body, err := s.readJSONObject(w, r, "library entry")
	if err != nil {
		return err
	}
	var req struct {
		Meta json.RawMessage `json:"meta"`
		Body *string         `json:"body"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Body == nil {
		return domain.Errorf(domain.EINVALID, "library entry must be {\"meta\": {...}, \"body\": \"<text>\"}")
	}
	// The entry is compact already (readJSONObject), and so is its meta;
	// null or no meta is no meta.
	if len(req.Meta) > 0 && string(req.Meta) != "null" {
		if req.Meta, err = domain.CanonicalObject("library meta", req.Meta); err != nil {
			return err
		}
	} else {
		req.Meta = nil
	}
	ureq, err := request(r)
	if err != nil {
		return err
	}
	entry := domain.LibraryEntry{Type: typ, Path: path, Meta: req.Meta, Body: *req.Body}
	res, err := s.app.SaveLibrary(r.Context(), usecase.SaveLibrary{Request: ureq, Entry: entry})
	if err != nil {
		return err
	}
	writeSaved(w, res, Saved{})
	return nil
}
