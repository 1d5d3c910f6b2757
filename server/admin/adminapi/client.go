package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Error is an error answer of the admin API: the HTTP status and the
// body's error, error_description and (for a bad input) field.
type Error struct {
	Status      int          `json:"-"`
	Code        string       `json:"error"`
	Description string       `json:"error_description"`
	Field       string       `json:"field,omitempty"`
	Detail      *ErrorDetail `json:"detail,omitempty"`
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Description)
	// A validation error's description starts with its field already.
	if e.Field != "" && !strings.HasPrefix(e.Description, e.Field+":") {
		msg += " (field " + e.Field + ")"
	}
	if e.Detail != nil && e.Detail.HoldersTotal > 0 {
		msg += "; " + e.Detail.String()
	}
	return msg
}

// maxAnswer bounds what the client reads of an answer: a page of 500
// applications is well under it.
const maxAnswer = 8 << 20

// Client calls an oauthd's admin API. Its methods return an *Error for
// every error answer of the API; other failures (the server unreachable,
// an answer that is not the API's) are plain errors.
type Client struct {
	base       string // the server's base URL + Prefix
	credential string
	http       *http.Client
}

// NewClient returns a client of the admin API of the oauthd at base
// ("https://oauthd.example.com"), authenticating with credential: an admin
// key, or an access token with the applications scope. hc carries the
// requests (its Transport may be InProcess); nil means
// http.DefaultClient.
func NewClient(base, credential string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/") + Prefix, credential: credential, http: hc}
}

// do sends one request: body, when not nil, as JSON; a 2xx answer decoded
// into out, when not nil.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.send(ctx, method, path, body, out)
	return err
}

// send is do that also returns a 2xx answer's status.
func (c *Client) send(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.credential)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			// Not the API's answer: a proxy's error page, say.
			return 0, fmt.Errorf("admin API at %s answered %s: %.200s", c.base, resp.Status, b)
		}
		return 0, e
	}
	if out == nil || len(b) == 0 {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.Unmarshal(b, out)
}

func appPath(id string, rest ...string) string {
	p := "/applications/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// page is a listing's query: the page size, always sent (the server
// refuses one out of range), and what else is set.
func page(limit int, params ...string) string {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] != "" {
			q.Set(params[i], params[i+1])
		}
	}
	return "?" + q.Encode()
}

// CreateApplication is POST /applications: the new application with its
// secret, shown this once.
func (c *Client) CreateApplication(ctx context.Context, in NewApplicationRequest) (Application, error) {
	var out Application
	return out, c.do(ctx, http.MethodPost, "/applications", in, &out)
}

// ListApplications is GET /applications: a page of limit (1 to 500) of
// the applications f selects, in f's order, after cursor ("" for the
// first page; f.Before for the page before one).
func (c *Client) ListApplications(ctx context.Context, f ApplicationFilter, limit int, cursor string) (ApplicationList, error) {
	var out ApplicationList
	order := ""
	if f.Desc {
		order = "desc"
	}
	q := page(limit, "search", f.Search, "name", f.Name, "owner", f.Owner, "sort", f.Sort, "order", order, "cursor", cursor, "before", f.Before)
	return out, c.do(ctx, http.MethodGet, "/applications"+q, nil, &out)
}

// GetApplication is GET /applications/{id}.
func (c *Client) GetApplication(ctx context.Context, id string) (Application, error) {
	var out Application
	return out, c.do(ctx, http.MethodGet, appPath(id), nil, &out)
}

// ImportApplication is PUT /applications/{id}: an application under the
// given id with the secret its daemons hold. A taken id is a 409.
func (c *Client) ImportApplication(ctx context.Context, id string, in ImportApplicationRequest) (Application, error) {
	var out Application
	return out, c.do(ctx, http.MethodPut, appPath(id), in, &out)
}

// ExportApplications is GET /export: a page of limit (1 to 500)
// applications from cursor ("" for the first), each as ImportApplication
// takes it back; with withSecrets (admin keys only) with its secrets'
// digests.
func (c *Client) ExportApplications(ctx context.Context, limit int, cursor string, withSecrets bool) (ApplicationExport, error) {
	secrets := "digests"
	if !withSecrets {
		secrets = "none"
	}
	var out ApplicationExport
	return out, c.do(ctx, http.MethodGet, "/export"+page(limit, "cursor", cursor, "secrets", secrets), nil, &out)
}

// UpdateApplication is PATCH /applications/{id}: the application as it is
// after the change.
func (c *Client) UpdateApplication(ctx context.Context, id string, p ApplicationPatchRequest) (Application, error) {
	var out Application
	return out, c.do(ctx, http.MethodPatch, appPath(id), p, &out)
}

// DeleteApplication is DELETE /applications/{id}.
func (c *Client) DeleteApplication(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, appPath(id), nil, nil)
}

// ResetSecret is POST /applications/{id}/secrets: a new secret, shown this
// once.
func (c *Client) ResetSecret(ctx context.Context, id string, in SecretResetRequest) (SecretReset, error) {
	var out SecretReset
	return out, c.do(ctx, http.MethodPost, appPath(id, "secrets"), in, &out)
}

// DeleteSecret is DELETE /applications/{id}/secrets/{sid}.
func (c *Client) DeleteSecret(ctx context.Context, id, secretID string) error {
	return c.do(ctx, http.MethodDelete, appPath(id, "secrets", url.PathEscape(secretID)), nil, nil)
}

// RevokeTokens is DELETE /applications/{id}/tokens: every token and API
// key of the application stops working.
func (c *Client) RevokeTokens(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, appPath(id, "tokens"), nil, nil)
}

// ListTokens is GET /applications/{id}/tokens: up to limit (1 to 500)
// live tokens and API keys.
func (c *Client) ListTokens(ctx context.Context, id string, limit int) (TokenList, error) {
	var out TokenList
	return out, c.do(ctx, http.MethodGet, appPath(id, "tokens")+page(limit), nil, &out)
}

// CreateAPIKey is POST /applications/{id}/api-keys: the key, shown this
// once.
func (c *Client) CreateAPIKey(ctx context.Context, id string, in NewAPIKeyRequest) (APIKey, error) {
	var out APIKey
	return out, c.do(ctx, http.MethodPost, appPath(id, "api-keys"), in, &out)
}

// RevokeToken is DELETE /tokens/{jti}: one token or API key.
func (c *Client) RevokeToken(ctx context.Context, jti string) error {
	return c.do(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(jti), nil, nil)
}

// ListEvents is GET /events: a page of limit (1 to 500) entries of one
// audit log from cursor ("" for the newest) that f matches.
func (c *Client) ListEvents(ctx context.Context, f EventFilter, limit int, cursor string) (EventList, error) {
	var out EventList
	return out, c.do(ctx, http.MethodGet, "/events"+page(limit, "log", f.Log, "client_id", f.ClientID, "kind", f.Kind, "cursor", cursor), nil, &out)
}

// SigningKeys is GET /signing-keys: the published JWT signing keys.
func (c *Client) SigningKeys(ctx context.Context) (SigningKeyList, error) {
	var out SigningKeyList
	return out, c.do(ctx, http.MethodGet, "/signing-keys", nil, &out)
}

// RotateSigningKey is POST /signing-keys: a new key, published now and
// signing from its SignsFrom.
func (c *Client) RotateSigningKey(ctx context.Context) (SigningKey, error) {
	var out SigningKey
	return out, c.do(ctx, http.MethodPost, "/signing-keys", nil, &out)
}

// ListScopes is GET /scopes: the scope catalogue, and the forms
// applications may hold besides.
func (c *Client) ListScopes(ctx context.Context) (ScopeList, error) {
	var out ScopeList
	return out, c.do(ctx, http.MethodGet, "/scopes", nil, &out)
}

// PutScope is PUT /scopes/{name}: the scope added to the catalogue
// (created true) or its description set.
func (c *Client) PutScope(ctx context.Context, name string, in ScopeRequest) (out Scope, created bool, err error) {
	status, err := c.send(ctx, http.MethodPut, "/scopes/"+url.PathEscape(name), in, &out)
	return out, status == http.StatusCreated, err
}

// DeleteScope is DELETE /scopes/{name}. While applications hold the scope
// it is a 409 naming them (Error.Detail) unless force, which takes it from
// them too.
func (c *Client) DeleteScope(ctx context.Context, name string, force bool) error {
	q := ""
	if force {
		q = "?force=true"
	}
	return c.do(ctx, http.MethodDelete, "/scopes/"+url.PathEscape(name)+q, nil, nil)
}
