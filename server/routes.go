package server

// routes registers every public route in one place.
func (s *Server) routes() {
	e := s.echo
	e.POST("/oauth/token", s.handleToken)
	e.POST("/oauth/introspect", s.handleIntrospect)
	e.POST("/oauth/revoke", s.handleRevoke)
	e.GET("/.well-known/oauth-authorization-server", s.handleMetadata)
	e.GET("/healthz", s.handleHealth)
}
