package web

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"

	"github.com/ufo-run/ufo/app"
)

type node = map[string]any

// TestOpenAPIMatchesRoutes fails for every /api route the router serves
// that openapi.yaml leaves out, and every operation it describes that the
// router does not serve. For the routes in both, it sends requests to check
// what the document says of auth and of the fleet parameter. Operations
// marked x-ufo-adapter are mounted by an adapter (bot/slack, bot/github),
// which this package cannot import without a cycle: the adapter's own tests
// check its routes against this document.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc := openAPIDoc(t)
	described := operations(doc)
	router := routeServer(t).Routes()

	served := map[string]string{} // "METHOD /path" -> chi pattern
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/api" || strings.HasPrefix(route, "/api/") {
			served[method+" "+specPath(route)] = route
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the routes: %v", err)
	}

	for _, key := range sortedKeys(served) {
		op, ok := described[key]
		if !ok {
			t.Errorf("route %s is not in openapi.yaml", key)
			continue
		}
		checkBehaviour(t, doc, router, key, op, served[key])
	}
	for _, key := range sortedKeys(described) {
		if _, ok := served[key]; !ok && described[key].op["x-ufo-adapter"] == nil {
			t.Errorf("openapi.yaml describes %s, which the router does not serve", key)
		}
	}
}

// TestOpenAPIDocument checks the document's structure as OpenAPI 3.1: the
// version, that every path template's parameters are declared, that every
// $ref resolves, unique operation ids and well-formed responses.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := openAPIDoc(t)

	if v, _ := doc["openapi"].(string); !openAPIVersion.MatchString(v) {
		t.Errorf("openapi is %q, want 3.1.x", v)
	}
	info := object(doc, doc["info"])
	for _, f := range []string{"title", "version"} {
		if s, _ := info[f].(string); s == "" {
			t.Errorf("info.%s is missing", f)
		}
	}
	checkRefs(t, doc, doc, "#")

	schemes := object(doc, object(doc, doc["components"])["securitySchemes"])
	checkSecurity(t, schemes, "the document", doc["security"])

	ids := map[string]string{}
	ops := operations(doc)
	for _, key := range sortedKeys(ops) {
		op := ops[key]
		for f := range op.item {
			if !methods[f] && !slices.Contains([]string{"parameters", "summary", "description", "servers", "$ref"}, f) {
				t.Errorf("%s: unknown path item field %q", op.path, f)
			}
		}
		want := map[string]bool{}
		for _, m := range templateParam.FindAllStringSubmatch(op.path, -1) {
			want[m[1]] = true
		}
		got := pathParams(t, doc, key, op.item["parameters"], op.op["parameters"])
		for _, name := range sortedKeys(want) {
			if !got[name] {
				t.Errorf("%s: path parameter {%s} is not declared", key, name)
			}
		}
		for _, name := range sortedKeys(got) {
			if !want[name] {
				t.Errorf("%s: declares path parameter %s, which the path does not have", key, name)
			}
		}

		id, _ := op.op["operationId"].(string)
		if prev, dup := ids[id]; id != "" && dup {
			t.Errorf("%s: operationId %s is also used by %s", key, id, prev)
		}
		ids[id] = key

		if sec, ok := op.op["security"]; ok {
			checkSecurity(t, schemes, key, sec)
		}
		responses := object(doc, op.op["responses"])
		if len(responses) == 0 {
			t.Errorf("%s: no responses", key)
		}
		for code, r := range responses {
			if !responseCode.MatchString(code) {
				t.Errorf("%s: response key %q is not a status code", key, code)
			}
			if d, _ := object(doc, r)["description"].(string); d == "" {
				t.Errorf("%s: response %s has no description", key, code)
			}
		}
	}
}

var (
	openAPIVersion = regexp.MustCompile(`^3\.1\.\d+$`)
	methods        = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}
	templateParam  = regexp.MustCompile(`\{([^}]+)\}`)
	responseCode   = regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]XX|default)$`)
	chiRegexParam  = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)
)

// openAPIDoc parses the document the server embeds and serves.
func openAPIDoc(t *testing.T) node {
	t.Helper()
	var doc node
	if err := yaml.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	if doc == nil {
		t.Fatal("openapi.yaml is empty")
	}
	return doc
}

// operation is one method of one path in the document.
type operation struct {
	path string
	item node // the path item: its parameters apply to every method
	op   node
}

// operations indexes the document's operations by "METHOD /path".
func operations(doc node) map[string]operation {
	out := map[string]operation{}
	for path, v := range object(doc, doc["paths"]) {
		item := object(doc, v)
		for method, op := range item {
			if methods[method] {
				out[strings.ToUpper(method)+" "+path] = operation{path: path, item: item, op: object(doc, op)}
			}
		}
	}
	return out
}

// resolve follows a local JSON pointer such as #/components/schemas/Run.
func resolve(doc node, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(rest, "/") {
		m, ok := cur.(node)
		if !ok {
			return nil, false
		}
		if cur, ok = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// object returns v as an object, following $ref; nil when it is neither.
func object(doc node, v any) node {
	for range 10 {
		m, _ := v.(node)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v, _ = resolve(doc, ref)
	}
	return nil
}

func checkRefs(t *testing.T, doc node, v any, at string) {
	t.Helper()
	switch v := v.(type) {
	case node:
		if ref, ok := v["$ref"].(string); ok {
			if _, found := resolve(doc, ref); !found {
				t.Errorf("%s: $ref %s does not resolve", at, ref)
			}
		}
		for _, k := range sortedKeys(v) {
			checkRefs(t, doc, v[k], at+"/"+k)
		}
	case []any:
		for i, e := range v {
			checkRefs(t, doc, e, at+"/"+strconv.Itoa(i))
		}
	}
}

func checkSecurity(t *testing.T, schemes node, where string, sec any) {
	t.Helper()
	list, ok := sec.([]any)
	if !ok {
		t.Errorf("%s: security is not a list", where)
		return
	}
	for _, req := range list {
		r, ok := req.(node)
		if !ok {
			t.Errorf("%s: a security requirement is not an object", where)
		}
		for name := range r {
			if _, ok := schemes[name]; !ok {
				t.Errorf("%s: security scheme %s is not in components.securitySchemes", where, name)
			}
		}
	}
}

// pathParams checks the parameter lists and returns the names of the path
// parameters they declare.
func pathParams(t *testing.T, doc node, key string, lists ...any) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, list := range lists {
		ps, _ := list.([]any)
		for _, p := range ps {
			param := object(doc, p)
			name, _ := param["name"].(string)
			in, _ := param["in"].(string)
			_, schema := param["schema"]
			_, content := param["content"]
			switch {
			case name == "" || !slices.Contains([]string{"path", "query", "header", "cookie"}, in):
				t.Errorf("%s: parameter %v needs a name and in: path, query, header or cookie", key, p)
			case schema == content:
				t.Errorf("%s: parameter %s needs exactly one of schema and content", key, name)
			case in == "path" && param["required"] != true:
				t.Errorf("%s: path parameter %s must be required", key, name)
			}
			if in == "path" {
				got[name] = true
			}
		}
	}
	return got
}

// routeServer is a Server without database, hub or adapters: enough to
// list the routes and to run the middleware that answers before a handler
// reaches the store.
func routeServer(t *testing.T) *Server {
	return &Server{
		log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
		metrics:  newMetrics(nil),
		limiters: map[string]*rate.Limiter{},
	}
}

// specPath writes a chi pattern as an OpenAPI path ({id:[0-9]+} -> {id}).
func specPath(route string) string { return chiRegexParam.ReplaceAllString(route, "{$1}") }

// checkBehaviour sends the route an anonymous request, a signed-in one
// and a signed-in one with ?fleet=, and compares how it answers with what
// the document says of its security, its fleet parameter and its statuses.
func checkBehaviour(t *testing.T, doc node, router http.Handler, key string, op operation, route string) {
	t.Helper()
	method, _, _ := strings.Cut(key, " ")
	target := templateParam.ReplaceAllString(route, "x")
	person := app.User{ID: "probe"}
	anonymous := probe(router, method, target, app.User{})
	signedIn := probe(router, method, target, person)
	inFleet := probe(router, method, target+"?fleet=probe", person)
	for _, a := range []answer{anonymous, signedIn, inFleet} {
		if a.pattern != route {
			t.Errorf("%s: a request to %s reached %q", key, target, a.pattern)
			return
		}
	}

	sec, ok := op.op["security"].([]any)
	if !ok {
		sec, _ = doc["security"].([]any)
	}
	public := len(sec) == 0 || slices.ContainsFunc(sec, func(r any) bool { m, _ := r.(node); return len(m) == 0 })
	rover := slices.ContainsFunc(sec, func(r any) bool { m, _ := r.(node); _, ok := m["roverToken"]; return ok })
	switch {
	case public && anonymous.status == http.StatusUnauthorized:
		t.Errorf("%s: answers 401 without credentials, but openapi.yaml says it needs none", key)
	case !public && anonymous.status != http.StatusUnauthorized:
		t.Errorf("%s: answers %d without credentials, but openapi.yaml requires them", key, anonymous.status)
	case !public && rover != (signedIn.status == http.StatusUnauthorized):
		t.Errorf("%s: openapi.yaml says roverToken is %v, but a signed-in person gets %d", key, rover, signedIn.status)
	}

	fleetScoped := signedIn.status != inFleet.status
	if declared := declaresFleet(doc, op); declared != fleetScoped {
		t.Errorf("%s: openapi.yaml declares the required fleet parameter: %v; the route reads ?fleet=: %v", key, declared, fleetScoped)
	}

	responses := object(doc, op.op["responses"])
	for _, a := range []answer{anonymous, signedIn, inFleet} {
		if _, ok := responses[strconv.Itoa(a.status)]; a.status != 0 && !ok {
			t.Errorf("%s: answers %d, which openapi.yaml does not list", key, a.status)
		}
	}
}

func declaresFleet(doc node, op operation) bool {
	for _, list := range []any{op.item["parameters"], op.op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			if param := object(doc, p); param["name"] == "fleet" && param["in"] == "query" && param["required"] == true {
				return true
			}
		}
	}
	return false
}

// answer is how the router answered one request.
type answer struct {
	pattern string // the route chi matched
	status  int    // 0 when the handler got as far as the store
}

// probe sends an empty request as user. The server has no store, so a
// handler that gets past the middleware to the store panics: that is the
// expected end of such a probe, reported as status 0.
func probe(router http.Handler, method, target string, user app.User) (a answer) {
	rctx := chi.NewRouteContext()
	ctx := context.WithValue(context.Background(), chi.RouteCtxKey, rctx)
	ctx = context.WithValue(ctx, userKey, user)
	rec := httptest.NewRecorder()
	defer func() {
		_ = recover()
		a.pattern = rctx.RoutePattern()
	}()
	router.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, method, target, nil))
	a.status = rec.Code
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
