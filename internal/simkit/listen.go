package simkit

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listen serves h on a new 127.0.0.1 listener until stop is called and returns its base URL
// ("http://127.0.0.1:PORT"). Simulators and tests bind to loopback only.
func Listen(h http.Handler) (baseURL string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", func() {}, fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}
