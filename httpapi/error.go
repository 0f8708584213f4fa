package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
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
	domain.ETOOMANY:      http.StatusTooManyRequests,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.ECORRUPT:      http.StatusInternalServerError,
	domain.ECANCELED:     statusClientClosed,
	domain.EINTERNAL:     http.StatusInternalServerError,
}

// statusClientClosed is what the metrics record for a request whose client
// went away before the answer (nginx's 499); the client never sees it.
const statusClientClosed = 499

// retryAfter is the Retry-After of every 503, in seconds: Valkey restarts,
// loads and failovers take seconds.
const retryAfter = "1"

// writeError answers with err's code and message; it is where errors are
// logged, once. Internal errors are logged and shown to the user only as
// "internal error"; corrupt data is logged with its message. An
// unavailable Valkey is not logged per request (the Valkey monitor says so
// once), nor is a client that went away.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := domain.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if errors.Is(err, projector.ErrChainBroken) {
		// The namespace failed verification: its writes wait for an
		// operator, not for a bug fix.
		status = http.StatusServiceUnavailable
	}
	body := Error{Code: code, Message: domain.ErrorMessage(err)}
	switch code {
	case domain.EINTERNAL:
		s.log.Error("internal error", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		body.Message = "internal error"
	case domain.ECORRUPT:
		s.log.Error("stored data is corrupt", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	case domain.EUNAVAILABLE:
		s.log.Debug("unavailable", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		w.Header().Set("Retry-After", retryAfter)
	case domain.ETOOMANY:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", retryAfter)
		}
	case domain.ECANCELED:
		// Nobody reads the answer; the status is for the metrics.
		w.WriteHeader(status)
		return
	}
	if code == domain.ECONFLICT {
		var de *domain.Error
		if errorsAs(err, &de) {
			rev := de.CurrentRevision
			body.CurrentRevision = &rev
			w.Header().Set("ETag", etag(rev))
		}
		body.Moved = movedOf(err)
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
