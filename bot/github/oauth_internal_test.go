package github

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestStateCookie: the state cookie is Secure when UFO is served over
// HTTPS, and the state it goes with comes back from GitHub whole.
func TestStateCookie(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		public string
		secure bool
	}{{"https://ufo.example.com", true}, {"http://localhost:8080", false}} {
		a := &App{cfg: Config{PublicURL: c.public, ClientID: "Iv1.x", WebURL: "https://github.com"}}
		w := httptest.NewRecorder()
		a.authorize(w, httptest.NewRequest("GET", "/github/setup", nil), 957387, true)
		cookies := w.Result().Cookies()
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil || len(cookies) != 1 {
			t.Fatalf("%s: cookies %v, location %q", c.public, cookies, w.Header().Get("Location"))
		}
		ck := cookies[0]
		st, ok := parseAuthState(loc.Query().Get("state"))
		if !ok || st.nonce != ck.Value || st.installation != 957387 || !st.again || ck.Secure != c.secure || !ck.HttpOnly ||
			ck.SameSite != http.SameSiteLaxMode || ck.Path != "/github/setup" || ck.MaxAge != 600 {
			t.Errorf("%s: state %+v (%v), cookie %+v", c.public, st, ok, ck)
		}
	}
	for _, s := range []string{"", "957387", "n.", "n.x", "n.-1", ".5", "n.5.again.again", "n.5.twice"} {
		if st, ok := parseAuthState(s); ok {
			t.Errorf("parseAuthState(%q) = %+v", s, st)
		}
	}
}
