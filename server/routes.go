package server

// The endpoints' paths.
const (
	TokenPath      = "/oauth/token"
	IntrospectPath = "/oauth/introspect"
	RevokePath     = "/oauth/revoke"
)

// routes registers every public route in one place.
func (s *Server) routes() {
	e := s.echo
	e.POST(TokenPath, s.handleToken)
	e.POST(IntrospectPath, s.handleIntrospect)
	e.POST(RevokePath, s.handleRevoke)
	if s.cfg.Feed != nil {
		e.GET(FeedPath, s.handleFeed)
	}
	e.GET("/.well-known/oauth-authorization-server", s.handleMetadata)
	e.GET(JWKSPath, s.handleJWKS)
}
