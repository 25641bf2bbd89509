package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/ufo-run/ufo/app"
)

// Handler returns every route UFO serves, behind cross-origin protection.
func (s *Server) Handler() http.Handler {
	return http.NewCrossOriginProtection().Handler(s.Routes())
}

// Routes lists every route. openapi.yaml describes the /api routes;
// TestOpenAPIMatchesRoutes keeps the two in step.
func (s *Server) Routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.metrics.middleware, s.withUser)

	for _, m := range s.cfg.Mounters {
		m.Mount(r, s.auth())
	}

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", s.metrics.handler())

	// The board: server-rendered pages (board*.go, templates/board). They
	// only render; their forms and buttons call the API from board.js.
	r.Group(func(r chi.Router) {
		r.Get("/", s.home)
		r.Get("/static/*", s.serveStatic)
		r.Get("/signin", s.signInPage)
		r.Get("/signup", s.signUpPage)
		r.Get("/invitations/{token}", s.invitationPage)
		r.Group(func(r chi.Router) {
			r.Use(s.boardSignedIn, s.boardFleet)
			r.Get("/board", s.boardPage)
			r.Get("/operations/{id}", s.operationPage)
			r.Get("/rovers", s.roversPage)
			r.Get("/pilots", s.pilotsPage)
			r.Get("/crews", s.crewsPage)
			r.Get("/missions", s.missionsPage)
			r.Get("/members", s.membersPage)
			r.Get("/settings", s.settingsPage)
			r.Get("/settings/manifests/{service}", s.manifestDownload)
		})
	})

	r.Route("/api", func(r chi.Router) {
		r.Get("/openapi.yaml", s.openAPI)

		r.Post("/auth/signup", s.signUp)
		r.Post("/auth/login", s.signIn)
		r.Post("/auth/logout", s.signOut)
		r.Post("/invitations/{token}/accept", s.acceptInvitation)

		// The rover protocol (bearer token; see rover/wire).
		r.Post("/rovers/enroll", s.roverEnroll)
		r.Group(func(r chi.Router) {
			r.Use(s.requireRover)
			r.Post("/rover/connect", s.roverConnect)
			r.Post("/rover/claim", s.roverClaim)
			r.Post("/rover/runs/{id}/start", s.roverStart)
			r.Post("/rover/runs/{id}/heartbeat", s.roverHeartbeat)
			r.Post("/rover/runs/{id}/events", s.roverEvents)
			r.Post("/rover/runs/{id}/complete", s.roverComplete)
			r.Delete("/rover/self", s.roverRevokeSelf)
		})

		r.Group(func(r chi.Router) {
			r.Use(s.requireUser)
			r.Get("/me", s.me)
			r.Get("/fleets", s.listFleets)
			r.Post("/fleets", s.createFleet)
		})

		// Fleet-scoped routes: ?fleet=ID, members and up.
		r.Group(func(r chi.Router) {
			r.Use(s.requireFleet(app.RoleMember))

			r.Get("/members", s.listMembers)
			r.Get("/invitations", s.listInvitations)

			r.Get("/missions", s.listMissions)
			r.Get("/missions/{id}", s.getMission)
			r.Get("/pilots", s.listPilots)
			r.Get("/pilots/{id}", s.getPilot)
			r.Get("/crews", s.listCrews)
			r.Get("/crews/{id}", s.getCrew)
			r.Get("/labels", s.listLabels)
			r.Post("/labels", s.createLabel)
			r.Patch("/labels/{id}", s.updateLabel)
			r.Delete("/labels/{id}", s.deleteLabel)

			r.Get("/operations", s.listOperations)
			r.Post("/operations", s.createOperation)
			r.Get("/operations/{id}", s.getOperation)
			r.Patch("/operations/{id}", s.updateOperation)
			r.Delete("/operations/{id}", s.deleteOperation)
			r.Post("/operations/{id}/retry", s.retryOperation)
			r.Get("/operations/{id}/messages", s.listMessages)
			r.Post("/operations/{id}/messages", s.createMessage)
			r.Get("/operations/{id}/sub-operations", s.listSubOperations)
			r.Post("/operations/{id}/sub-operations", s.createSubOperation)
			r.Get("/operations/{id}/relationships", s.listRelationships)
			r.Post("/operations/{id}/relationships", s.createRelationship)
			r.Delete("/operations/{id}/relationships/{rel}", s.deleteRelationship)
			r.Get("/operations/{id}/reactions", s.listReactions)
			r.Post("/operations/{id}/reactions", s.createReaction)
			r.Delete("/operations/{id}/reactions/{reaction}", s.deleteReaction)

			r.Get("/signals", s.listSignals)
			r.Post("/signals", s.createSignal)
			r.Post("/signals/{id}/resolve", s.resolveSignal)

			r.Get("/runs", s.listRuns)
			r.Get("/runs/{id}", s.getRun)
			r.Get("/runs/{id}/events", s.listRunEvents)
			r.Post("/runs/{id}/cancel", s.cancelRun)

			r.Get("/rovers", s.listRovers)
			r.Get("/rovers/{id}", s.getRover)

			r.Get("/events", s.listEvents)
			r.Get("/events/stream", s.streamEvents)
		})

		// Fleet-scoped routes for admins and owners.
		r.Group(func(r chi.Router) {
			r.Use(s.requireFleet(app.RoleAdmin))
			r.Patch("/members/{user}", s.updateMember)
			r.Delete("/members/{user}", s.deleteMember)
			r.Post("/invitations", s.createInvitation)
			r.Delete("/invitations/{id}", s.deleteInvitation)
			r.Post("/missions", s.createMission)
			r.Patch("/missions/{id}", s.updateMission)
			r.Delete("/missions/{id}", s.deleteMission)
			r.Post("/pilots", s.createPilot)
			r.Patch("/pilots/{id}", s.updatePilot)
			r.Delete("/pilots/{id}", s.deletePilot)
			r.Post("/crews", s.createCrew)
			r.Patch("/crews/{id}", s.updateCrew)
			r.Delete("/crews/{id}", s.deleteCrew)
			r.Post("/rovers/enrollment-codes", s.createEnrollmentCode)
			r.Delete("/rovers/{id}", s.revokeRover)
		})
	})
	return r
}
