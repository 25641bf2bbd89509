//go:build unix

package chaos

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"
)

// balancer is the load balancer in front of the servers: every request
// goes to the next server that accepts a connection, so a dead server
// costs only the requests it was holding (answered 502, which rovers
// retry).
type balancer struct {
	addrs  []string
	next   atomic.Uint32
	failed atomic.Int64 // requests answered 502
	srv    *http.Server
	URL    string
}

func newBalancer(addrs []string) (*balancer, error) {
	b := &balancer{addrs: addrs}
	d := &net.Dialer{Timeout: time.Second}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "ufo"
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			// A connection per request, so requests spread over the
			// servers and none sticks to a dead one.
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var last error
				for range len(b.addrs) {
					addr := b.addrs[int(b.next.Add(1))%len(b.addrs)]
					c, err := d.DialContext(ctx, network, addr)
					if err == nil {
						return c, nil
					}
					last = err
				}
				return nil, last
			},
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			b.failed.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.URL = "http://" + ln.Addr().String()
	b.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *balancer) close() { b.srv.Close() }
