package server

// routes registers every public route in one place.
func (s *Server) routes() {
	e := s.echo
	e.POST("/oauth/token", handleToken(s.store, s.issuer, s.cfg.Now))
	e.GET("/healthz", s.handleHealth)
}
