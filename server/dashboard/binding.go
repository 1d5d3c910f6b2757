package dashboard

import (
	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/store"
)

// The binding policy of issue 19 on the application form: a checkbox for
// dpop_bound_access_tokens and a choice of profile. Both are fixed-value
// fields, read strictly (formChoice).

func readBindingFields(c echo.Context, f *appForm) error {
	bound, err := formChoice(c, "dpop_bound", "", "on")
	if err != nil {
		return err
	}
	if f.Profile, err = formChoice(c, "profile", "", store.ProfileFAPI2, store.ProfileNone); err != nil {
		return err
	}
	f.DPoPBound = bound == "on"
	return nil
}

// BindingSummary is the application page's line on how its tokens are
// bound.
func (a application) BindingSummary() string {
	var s string
	switch a.Profile {
	case store.ProfileFAPI2:
		s = "FAPI 2.0: DPoP or certificate-bound tokens only"
	case store.ProfileNone:
		s = "no profile (not the server's default)"
	default:
		s = "the server's default profile"
	}
	if a.DPoPBound {
		s += "; DPoP-bound tokens only (dpop_bound_access_tokens)"
	}
	return s
}
