package web

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/ufo-run/ufo/app"
)

const sessionCookie = "ufo_session"

type ctxKey int

const (
	userKey ctxKey = iota
	fleetKey
	roleKey
	roverKey
	memberKey
)

// member is the caller's role in the fleet the request names (?fleet=),
// read by withUser with the session; "" when not a member.
type member struct{ fleet, role string }

func userFrom(ctx context.Context) app.User { u, _ := ctx.Value(userKey).(app.User); return u }
func fleetFrom(ctx context.Context) string  { f, _ := ctx.Value(fleetKey).(string); return f }
func roleFrom(ctx context.Context) string   { r, _ := ctx.Value(roleKey).(string); return r }

func (s *Server) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies,
		MaxAge: int(30 * 24 * 3600),
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies, MaxAge: -1})
}

// withUser resolves the session cookie, when there is one, into the
// request's user.
func (s *Server) withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err == nil && c.Value != "" {
			// A request that names a fleet gets the caller's role in it in
			// the same round trip, for requireFleet.
			var u app.User
			var m *member
			if fleet := r.URL.Query().Get("fleet"); fleet != "" {
				var role string
				u, role, err = s.store.FindSessionMember(r.Context(), c.Value, fleet)
				m = &member{fleet, role}
			} else {
				u, err = s.store.FindSessionUser(r.Context(), c.Value)
			}
			switch {
			case err == nil:
				ctx := context.WithValue(r.Context(), userKey, u)
				if m != nil {
					ctx = context.WithValue(ctx, memberKey, *m)
				}
				r = r.WithContext(ctx)
			case !app.IsCode(err, app.EUnauthorized):
				// The database did not answer: that is not "signed out".
				w.Header().Set("Retry-After", "2")
				writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				}{Code: app.EInternal, Message: "the database is unavailable; try again shortly"}})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requireUser answers 401 without a signed-in user.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if userFrom(r.Context()).ID == "" {
			writeError(w, s.log, app.Errorf(app.EUnauthorized, "sign in first"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireFleet reads ?fleet=, checks membership (a fleet the caller is not
// in answers 404, as if it did not exist) and the minimum role (403 for a
// member without the power).
func (s *Server) requireFleet(min string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := userFrom(r.Context())
			if u.ID == "" {
				writeError(w, s.log, app.Errorf(app.EUnauthorized, "sign in first"))
				return
			}
			fleet := r.URL.Query().Get("fleet")
			if fleet == "" {
				writeError(w, s.log, app.Errorf(app.EInvalid, "the fleet query parameter is required"))
				return
			}
			var role string
			var err error
			if m, ok := r.Context().Value(memberKey).(member); ok && m.fleet == fleet {
				role = m.role // read with the session
				if role == "" {
					err = app.Errorf(app.ENotFound, "fleet not found")
				}
			} else {
				role, err = s.store.Role(r.Context(), fleet, u.ID)
			}
			if err != nil {
				if app.IsCode(err, app.ENotFound) {
					err = app.Errorf(app.ENotFound, "fleet not found")
				}
				writeError(w, s.log, err)
				return
			}
			if !app.RoleAtLeast(role, min) {
				writeError(w, s.log, app.Errorf(app.EForbidden, "this needs the %s role", min))
				return
			}
			ctx := context.WithValue(r.Context(), fleetKey, fleet)
			ctx = context.WithValue(ctx, roleKey, role)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type signupRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	Name      string `json:"name"`
	FleetName string `json:"fleet_name"`
}

func validEmail(e string) bool {
	at := strings.LastIndexByte(e, '@')
	return at > 0 && at < len(e)-1 && !strings.ContainsAny(e, " \t\r\n<>") && strings.Contains(e[at:], ".")
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request) {
	if !s.allow(signUpRate, clientAddr(r)) {
		w.Header().Set("Retry-After", "12")
		writeError(w, s.log, app.Errorf(app.ERateLimited, "too many sign-ups from this address; try again in a minute"))
		return
	}
	var in signupRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	in.Email = strings.TrimSpace(in.Email)
	var c check
	c.text("email", in.Email, true, 254)
	c.that(in.Email == "" || validEmail(in.Email), "email is not a valid address")
	c.that(len(in.Password) >= 8, "password must have at least 8 characters")
	c.that(len(in.Password) <= 256, "password is longer than 256 characters")
	c.text("name", in.Name, true, 100)
	c.text("fleet_name", in.FleetName, false, 100)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	if in.FleetName == "" {
		in.FleetName = in.Name + "'s fleet"
	}
	u, f, token, err := s.store.SignUp(r.Context(), in.Email, in.Name, app.HashPassword(in.Password), in.FleetName)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	s.setSessionCookie(w, token)
	if s.cfg.OnFleetCreated != nil {
		s.cfg.OnFleetCreated(context.WithoutCancel(r.Context()), f.ID)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": u, "fleet": f})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !s.allow(signInRate, clientAddr(r)) {
		w.Header().Set("Retry-After", "6")
		writeError(w, s.log, app.Errorf(app.ERateLimited, "too many sign-in attempts; try again in a minute"))
		return
	}
	var in loginRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.text("email", in.Email, true, 254)
	c.text("password", in.Password, true, 256)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	u, token, err := s.store.SignIn(r.Context(), strings.TrimSpace(in.Email), in.Password)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	s.setSessionCookie(w, token)
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.store.SignOut(r.Context(), c.Value); err != nil {
			writeError(w, s.log, err)
			return
		}
	}
	s.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	fleets, err := s.store.FleetsForUser(r.Context(), u.ID)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "fleets": fleets})
}
