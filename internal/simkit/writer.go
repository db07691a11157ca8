package simkit

import "net/http"

// StatusWriter remembers the status a handler answered, for the request log.
type StatusWriter struct {
	http.ResponseWriter
	status int
}

// NewStatusWriter wraps w.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter { return &StatusWriter{ResponseWriter: w} }

// WriteHeader records the first status written and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when the handler writes a body without a status, as net/http answers.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Status is the status written so far: 0 when nothing was written.
func (w *StatusWriter) Status() int { return w.status }

// Answered is the status the client got once the handler returned: net/http answers 200 when a handler
// writes nothing.
func (w *StatusWriter) Answered() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
