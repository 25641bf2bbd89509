package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// The sign-in, sign-up and invitation pages. Their forms post JSON to the
// API (/api/auth/…, /api/invitations/…/accept) from board.js, which sets
// the session cookie; these handlers only render.

type authPage struct {
	layout
	Next string
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/board"
	}
	return next
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if userFrom(r.Context()).ID != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "signin", authPage{layout: s.newLayout(r, "Sign in", ""), Next: next})
}

func (s *Server) signUpPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if userFrom(r.Context()).ID != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "signup", authPage{layout: s.newLayout(r, "Sign up", ""), Next: next})
}

type invitationPage struct {
	layout
	Invitation store.InvitationPreview
	Token      string
	// Here is this page's own URL, where sign-in and sign-up come back to.
	Here string
}

// invitationPage shows a pending invitation; a signed-in visitor accepts it
// with a button, others sign in or up first and come back.
func (s *Server) invitationPage(w http.ResponseWriter, r *http.Request) {
	token := param(r, "token")
	inv, err := s.store.FindInvitation(r.Context(), token)
	if app.IsCode(err, app.ENotFound) {
		s.renderError(w, r, http.StatusNotFound, "Invitation not found", "This invitation is unknown, used or expired.", false)
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "invitation", invitationPage{
		layout: s.newLayout(r, "Join "+inv.FleetName, ""), Invitation: inv, Token: token,
		Here: "/invitations/" + url.PathEscape(token),
	})
}
