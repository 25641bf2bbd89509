package webtest

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/app/web"
)

// OpenAPIPaths fetches the server's openapi.yaml and returns its paths,
// for an adapter's tests to check its routes against (app/web cannot
// import the adapters to do it).
func (s *Server) OpenAPIPaths() map[string]map[string]yaml.Node {
	s.T.Helper()
	status, raw, _ := s.Client().Do("GET", "/api/openapi.yaml", nil)
	if status != 200 {
		s.T.Fatalf("GET /api/openapi.yaml: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		s.T.Fatal(err)
	}
	return doc.Paths
}

// APIRoutes lists the /api routes m mounts, as sorted "METHOD /pattern"
// strings, mounting it on a bare router with an auth that lets every
// request through.
func APIRoutes(m web.Mounter) []string {
	r := chi.NewRouter()
	pass := func(string) func(http.Handler) http.Handler { return func(h http.Handler) http.Handler { return h } }
	m.Mount(r, web.Auth{RequireFleet: pass, Fleet: func(context.Context) string { return "" }, User: func(context.Context) app.User { return app.User{} }})
	var routes []string
	chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/") {
			routes = append(routes, method+" "+route)
		}
		return nil
	})
	slices.Sort(routes)
	return routes
}
