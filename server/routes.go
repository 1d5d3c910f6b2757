package server

// routes registers every public route in one place.
func (s *Server) routes() {
	e := s.echo
	e.POST("/oauth/token", s.handleToken)
	e.POST("/oauth/introspect", s.handleIntrospect)
	e.POST("/oauth/revoke", s.handleRevoke)
	if s.cfg.Feed != nil {
		e.GET(FeedPath, s.handleFeed)
	}
	e.GET("/.well-known/oauth-authorization-server", s.handleMetadata)
	e.GET(JWKSPath, s.handleJWKS)
}
