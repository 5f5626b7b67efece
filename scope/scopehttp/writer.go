package scopehttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter records the status of the response. It forwards Flush,
// Hijack and ReadFrom, and Unwrap lets http.ResponseController reach the
// server's writer for everything else (deadlines, full duplex).
type responseWriter struct {
	http.ResponseWriter
	status int // the final status once written, 0 before
}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx responses other than 101 are informational: the final status
	// comes later.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.WriteString(w.ResponseWriter, s)
}

func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush implements http.Flusher for code that type-asserts it.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls: it reports
// http.ErrNotSupported when the server's writer cannot flush.
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker; it reports http.ErrNotSupported when the
// server's writer cannot be hijacked (HTTP/2).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// Unwrap returns the server's writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finalStatus is the status the client got: 200 when the handler wrote
// nothing, 0 when w is nil (not recorded).
func (w *responseWriter) finalStatus() int {
	switch {
	case w == nil:
		return 0
	case w.status == 0:
		return http.StatusOK
	}
	return w.status
}

// written is the status written so far, 0 when none was or w is nil.
func (w *responseWriter) written() int {
	if w == nil {
		return 0
	}
	return w.status
}

// writerOnly hides every method but Write, so io.Copy cannot loop back into
// ReadFrom.
type writerOnly struct{ io.Writer }
