package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
)

// statusOf maps error codes to HTTP statuses. This is the only place that
// does.
var statusOf = map[string]int{
	domain.EINVALID:      http.StatusBadRequest,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.ECONFLICT:     http.StatusConflict,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.EFORBIDDEN:    http.StatusForbidden,
	domain.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is every error answer.
type errorBody struct {
	Code            string           `json:"code"`
	Message         string           `json:"message"`
	CurrentRevision *domain.Revision `json:"currentRevision,omitempty"`
}

// writeError answers with err's code and message. Internal errors are
// logged here, once, and shown to the user only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := domain.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{Code: code, Message: domain.ErrorMessage(err)}
	if code == domain.EINTERNAL {
		s.log.Error("internal error", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		body.Message = "internal error"
	}
	if code == domain.ECONFLICT {
		var de *domain.Error
		if errorsAs(err, &de) {
			rev := de.CurrentRevision
			body.CurrentRevision = &rev
			w.Header().Set("ETag", etag(rev))
		}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
