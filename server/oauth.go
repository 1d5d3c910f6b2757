package server

// This is the only file that imports go-oauth2/oauth2. The library is
// confined to what it decides for oauthd, and asked as a plain function
// (issue 22, item 5, option (b)): its grant-type policy, configured for
// client credentials only (its NewConfig allows four), which the token
// endpoint enforces and the metadata document publishes.
//
// The rest of token issue is oauthd's own, with data flowing one way:
// handleToken authenticates the client and checks scope, quota and
// audiences, because the library's defaults do not meet RFC 6749 (see
// ../shared/STYLE.md); issueToken (issue.go) generates or signs the token
// and stores its record. The library's manager is not in that path: it
// would need the request's state smuggled to its client store, generator
// and token store through a context, and a token store whose read methods
// oauthd has no use for.

import (
	"github.com/go-oauth2/oauth2/v4"
	oserver "github.com/go-oauth2/oauth2/v4/server"
)

// grantPolicy is go-oauth2's decision which grant types oauthd grants.
type grantPolicy struct{ srv *oserver.Server }

// newGrantPolicy allows the client credentials grant only. The library's
// server has no manager: it is asked CheckGrantType and nothing else.
func newGrantPolicy() grantPolicy {
	cfg := oserver.NewConfig()
	cfg.AllowedGrantTypes = []oauth2.GrantType{oauth2.ClientCredentials}
	cfg.AllowedResponseTypes = nil
	return grantPolicy{srv: oserver.NewServer(cfg, nil)}
}

// allows reports whether a token request's grant_type is granted.
func (p grantPolicy) allows(grantType string) bool {
	return p.srv.CheckGrantType(oauth2.GrantType(grantType))
}

// supported is the metadata document's grant_types_supported (RFC 8414 §2).
func (p grantPolicy) supported() []string {
	out := make([]string, len(p.srv.Config.AllowedGrantTypes))
	for i, gt := range p.srv.Config.AllowedGrantTypes {
		out[i] = string(gt)
	}
	return out
}
