package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/ufo-run/ufo/app"
)

// page reads ?limit= (default 50, at most 200) and the opaque ?cursor=.
func page(r *http.Request) (limit, offset int, err error) {
	limit = 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return 0, 0, app.Errorf(app.EInvalid, "limit must be between 1 and 200")
		}
		limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			return 0, 0, app.Errorf(app.EInvalid, "cursor is not valid")
		}
		offset = n
	}
	return limit, offset, nil
}

// writePage answers a list as a JSON array, with the next page's URL in a
// Link header when the page is full.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T, limit, offset int) {
	if len(items) == limit {
		next := *r.URL
		q := next.Query()
		q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset+limit))))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", (&url.URL{Path: next.Path, RawQuery: next.RawQuery}).String()))
	}
	writeJSON(w, http.StatusOK, items)
}

// optID returns a pointer to a query parameter's value, or nil when absent.
func optID(r *http.Request, name string) *string {
	if v := r.URL.Query().Get(name); v != "" {
		return &v
	}
	return nil
}

func param(r *http.Request, name string) string { return chi.URLParam(r, name) }
