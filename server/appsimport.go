package server

import (
	"context"
	"fmt"
	"net/http"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/store"
)

// MinImportedSecret is the shortest secret Import accepts. Generated
// secrets from Hydra and Keycloak are 26 to 32 characters or more; a
// shorter one is most likely a hand-typed password that should be reset,
// not carried over.
const MinImportedSecret = 16

// ImportedApplication is an application brought over from another
// authorization server with the credentials its daemons already hold.
type ImportedApplication struct {
	NewApplication
	ClientID     string
	ClientSecret string
}

// Import stores an application under the given client ID with the given
// secret, so daemons moving from Hydra, Keycloak or another server keep
// their credentials. Like Create, it keeps only the secret's SHA-256
// digest. An ID that exists already is store.ErrAlreadyExists (409): import
// never overwrites.
func (s *Apps) Import(ctx context.Context, in ImportedApplication) (store.Application, error) {
	// The id travels inside every token (oat_<client_id>_...), so it is
	// held to the alphabet the token endpoint accepts.
	if !validClientID(in.ClientID) {
		return store.Application{}, &ValidationError{Field: "client_id",
			Reason: fmt.Sprintf("use 1 to %d letters, digits, '-', '.' or '~' (no '_': it separates the parts of a token)", maxClientID)}
	}
	if err := checkImportedSecret(in.ClientSecret); err != nil {
		return store.Application{}, err
	}
	return s.add(ctx, "application.imported", in.ClientID, in.ClientSecret, in.NewApplication)
}

func checkImportedSecret(secret string) error {
	if len(secret) < MinImportedSecret || len(secret) > maxSecret {
		return &ValidationError{Field: "client_secret", Reason: fmt.Sprintf("must be %d to %d bytes; reset a shorter secret instead of importing it", MinImportedSecret, maxSecret)}
	}
	for _, r := range secret {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return &ValidationError{Field: "client_secret", Reason: "printable ASCII without spaces only"}
		}
	}
	return nil
}

// ImportApplicationRequest is the body of PUT /applications/{id}: an
// application with the secret its clients already use.
type ImportApplicationRequest struct {
	NewApplicationRequest
	ClientSecret string `json:"client_secret"`
}

// importApp answers PUT /applications/{id}: 201 with the application
// (never the secret), 409 if the id is taken.
func (a *Admin) importApp(c echo.Context) error {
	var req ImportApplicationRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return writeError(c, err)
	}
	app, err := a.apps.Import(c.Request().Context(), ImportedApplication{
		NewApplication: NewApplication(req.NewApplicationRequest),
		ClientID:       c.Param("id"),
		ClientSecret:   req.ClientSecret,
	})
	if err != nil {
		return writeError(c, err)
	}
	noStore(c.Response().Header())
	c.Response().Header().Set(echo.HeaderLocation, AdminPrefix+"/applications/"+app.ClientID)
	return writeJSON(c, http.StatusCreated, ApplicationDetail(app, store.Usage{}))
}
