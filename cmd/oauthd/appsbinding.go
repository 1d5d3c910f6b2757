package main

import (
	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/server/admin/adminapi"
)

// The binding policy's flags (issue 19), for apps create and update.

func bindingFlags(f *pflag.FlagSet, dpopBound *bool, profile *string) {
	f.BoolVar(dpopBound, "dpop-bound", false, "refuse token requests without a DPoP proof (RFC 9449 dpop_bound_access_tokens); --dpop-bound=false turns it off")
	f.StringVar(profile, "profile", "", `fapi2 (FAPI 2.0: private_key_jwt or mTLS authentication, sender-constrained tokens, TLS only), none, or "" for the server's fapi.default`)
}

// bindingPatch sets p's binding fields from the flags given.
func bindingPatch(f *pflag.FlagSet, p *adminapi.ApplicationPatchRequest, dpopBound bool, profile string) {
	if f.Changed("dpop-bound") {
		p.DPoPBound = &dpopBound
	}
	if f.Changed("profile") {
		p.Profile = &profile
	}
}
