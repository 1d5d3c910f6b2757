package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oauthd/oauthd/server/admin"
	"github.com/oauthd/oauthd/server/apps"

	"github.com/oauthd/oauthd/store"
)

// adminAPI is what the CLI's verbs need. Two implementations: direct, on
// the configured Redis through the application service (for bootstrapping
// before any server runs), and remote, through a running server's admin
// API. Both end in the same service code, so both validate and both write
// audit events.
type adminAPI interface {
	Create(ctx context.Context, in admin.NewApplicationRequest) (apps.Application, error)
	List(ctx context.Context, f apps.ListFilter, limit int, cursor string) (admin.ApplicationList, error)
	Get(ctx context.Context, id string) (apps.Application, error)
	Update(ctx context.Context, id string, p admin.ApplicationPatchRequest) (apps.Application, error)
	Delete(ctx context.Context, id string) error
	ResetSecret(ctx context.Context, id string, grace string) (admin.SecretReset, error)
	DeleteSecret(ctx context.Context, id, secretID string) error
	RevokeTokens(ctx context.Context, id string) error
	Events(ctx context.Context, clientID, kind string, limit int, cursor string) (admin.EventList, error)
	ListTokens(ctx context.Context, id string, limit int) (admin.TokenList, error)
	RevokeToken(ctx context.Context, jti string) error
	SigningKeys(ctx context.Context) (admin.SigningKeyList, error)
	RotateSigningKey(ctx context.Context) (admin.SigningKeyJSON, error)
	CreateAPIKey(ctx context.Context, id string, in admin.NewAPIKeyRequest) (admin.APIKey, error)
	Import(ctx context.Context, id string, in admin.ImportApplicationRequest) (apps.Application, error)
}

// directAPI runs the service in-process against Redis.
type directAPI struct{ apps *apps.Service }

func (d directAPI) ctx(ctx context.Context) context.Context {
	return apps.WithActor(ctx, apps.Actor{Name: "cli"})
}

func (d directAPI) Create(ctx context.Context, in admin.NewApplicationRequest) (apps.Application, error) {
	a, secret, err := d.apps.Create(d.ctx(ctx), apps.NewApplication(in))
	if err != nil {
		return apps.Application{}, err
	}
	out := apps.ApplicationDetail(a, store.Usage{})
	out.ClientSecret = secret
	return out, nil
}

func (d directAPI) List(ctx context.Context, f apps.ListFilter, limit int, cursor string) (admin.ApplicationList, error) {
	page, next, err := d.apps.List(ctx, cursor, limit, f)
	return admin.ApplicationList{Applications: page, NextCursor: next}, err
}

func (d directAPI) Get(ctx context.Context, id string) (apps.Application, error) {
	a, u, err := d.apps.Get(ctx, id)
	return apps.ApplicationDetail(a, u), err
}

func (d directAPI) Update(ctx context.Context, id string, p admin.ApplicationPatchRequest) (apps.Application, error) {
	a, err := d.apps.Update(d.ctx(ctx), id, apps.ApplicationPatch(p))
	return apps.ApplicationJSON(a), err
}

func (d directAPI) Delete(ctx context.Context, id string) error { return d.apps.Delete(d.ctx(ctx), id) }

func (d directAPI) ResetSecret(ctx context.Context, id string, grace string) (admin.SecretReset, error) {
	g, err := parseGrace(grace)
	if err != nil {
		return admin.SecretReset{}, err
	}
	a, secret, sid, err := d.apps.ResetSecret(d.ctx(ctx), id, g)
	if err != nil {
		return admin.SecretReset{}, err
	}
	return admin.SecretReset{ClientID: a.ClientID, ClientSecret: secret, SecretID: sid,
		Secrets: apps.ApplicationDetail(a, store.Usage{}).Secrets}, nil
}

func (d directAPI) DeleteSecret(ctx context.Context, id, secretID string) error {
	_, err := d.apps.DeleteSecret(d.ctx(ctx), id, secretID)
	return err
}

func parseGrace(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	g, err := time.ParseDuration(s)
	if err != nil {
		return 0, apps.Invalid("grace_period", "a duration such as 1h or 30m")
	}
	return g, nil
}

func (d directAPI) RevokeTokens(ctx context.Context, id string) error {
	return d.apps.RevokeTokens(d.ctx(ctx), id)
}

func (d directAPI) Events(ctx context.Context, clientID, kind string, limit int, cursor string) (admin.EventList, error) {
	ev, next, err := d.apps.Events(ctx, store.EventFilter{ClientID: clientID, Kind: kind}, cursor, limit)
	out := admin.EventList{NextCursor: next}
	for _, e := range ev {
		out.Events = append(out.Events, admin.EventJSON(e))
	}
	return out, err
}

func (d directAPI) ListTokens(ctx context.Context, id string, limit int) (admin.TokenList, error) {
	list, more, err := d.apps.ListTokens(ctx, id, limit)
	out := admin.TokenList{More: more}
	for _, t := range list {
		out.Tokens = append(out.Tokens, admin.TokenJSONOf(t))
	}
	return out, err
}

func (d directAPI) RevokeToken(ctx context.Context, jti string) error {
	return d.apps.RevokeToken(d.ctx(ctx), jti)
}

func (d directAPI) CreateAPIKey(ctx context.Context, id string, in admin.NewAPIKeyRequest) (admin.APIKey, error) {
	t, key, err := d.apps.CreateAPIKey(d.ctx(ctx), id, apps.NewAPIKey(in))
	return admin.APIKey{TokenJSON: admin.TokenJSONOf(t), Key: key}, err
}

// remoteAPI calls a running server's admin API.
type remoteAPI struct {
	base string // endpoint + /admin/v1
	key  string
	http *http.Client
}

func newRemoteAPI(endpoint, key string) (remoteAPI, error) {
	if key == "" {
		return remoteAPI{}, errors.New("--endpoint needs an admin credential in OAUTHD_ADMIN_KEY: an admin key, or an access token with the applications scope")
	}
	return remoteAPI{
		base: strings.TrimRight(endpoint, "/") + admin.Prefix,
		key:  key,
		http: &http.Client{Timeout: 30 * time.Second},
	}, nil
}

// apiError is an error answer of the admin API, printed as the server
// said it.
type apiError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
	Field       string `json:"field"`
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Description)
	if e.Field != "" && !strings.HasPrefix(e.Description, e.Field+":") {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

func (r remoteAPI) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			return fmt.Errorf("admin API at %s answered %s: %.200s", r.base, resp.Status, b)
		}
		return e
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (r remoteAPI) Create(ctx context.Context, in admin.NewApplicationRequest) (apps.Application, error) {
	var out apps.Application
	return out, r.do(ctx, http.MethodPost, "/applications", in, &out)
}

func (r remoteAPI) List(ctx context.Context, f apps.ListFilter, limit int, cursor string) (admin.ApplicationList, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if f.Name != "" {
		q.Set("name", f.Name)
	}
	if f.Owner != "" {
		q.Set("owner", f.Owner)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out admin.ApplicationList
	return out, r.do(ctx, http.MethodGet, "/applications?"+q.Encode(), nil, &out)
}

func (r remoteAPI) Get(ctx context.Context, id string) (apps.Application, error) {
	var out apps.Application
	return out, r.do(ctx, http.MethodGet, "/applications/"+url.PathEscape(id), nil, &out)
}

func (r remoteAPI) Update(ctx context.Context, id string, p admin.ApplicationPatchRequest) (apps.Application, error) {
	var out apps.Application
	return out, r.do(ctx, http.MethodPatch, "/applications/"+url.PathEscape(id), p, &out)
}

func (r remoteAPI) Delete(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodDelete, "/applications/"+url.PathEscape(id), nil, nil)
}

func (r remoteAPI) ResetSecret(ctx context.Context, id string, grace string) (admin.SecretReset, error) {
	var out admin.SecretReset
	return out, r.do(ctx, http.MethodPost, "/applications/"+url.PathEscape(id)+"/secrets", admin.SecretResetRequest{GracePeriod: grace}, &out)
}

func (r remoteAPI) RevokeTokens(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodDelete, "/applications/"+url.PathEscape(id)+"/tokens", nil, nil)
}

func (r remoteAPI) Events(ctx context.Context, clientID, kind string, limit int, cursor string) (admin.EventList, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for k, v := range map[string]string{"client_id": clientID, "kind": kind, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out admin.EventList
	return out, r.do(ctx, http.MethodGet, "/events?"+q.Encode(), nil, &out)
}

func (r remoteAPI) ListTokens(ctx context.Context, id string, limit int) (admin.TokenList, error) {
	var out admin.TokenList
	return out, r.do(ctx, http.MethodGet, "/applications/"+url.PathEscape(id)+"/tokens?limit="+strconv.Itoa(limit), nil, &out)
}

func (r remoteAPI) RevokeToken(ctx context.Context, jti string) error {
	return r.do(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(jti), nil, nil)
}

func (r remoteAPI) CreateAPIKey(ctx context.Context, id string, in admin.NewAPIKeyRequest) (admin.APIKey, error) {
	var out admin.APIKey
	return out, r.do(ctx, http.MethodPost, "/applications/"+url.PathEscape(id)+"/api-keys", in, &out)
}

func (r remoteAPI) DeleteSecret(ctx context.Context, id, secretID string) error {
	return r.do(ctx, http.MethodDelete, "/applications/"+url.PathEscape(id)+"/secrets/"+url.PathEscape(secretID), nil, nil)
}

func (d directAPI) Import(ctx context.Context, id string, in admin.ImportApplicationRequest) (apps.Application, error) {
	a, err := d.apps.Import(d.ctx(ctx), apps.ImportedApplication{
		NewApplication: apps.NewApplication(in.NewApplicationRequest), ClientID: id, ClientSecret: in.ClientSecret,
	})
	return apps.ApplicationDetail(a, store.Usage{}), err
}

func (r remoteAPI) Import(ctx context.Context, id string, in admin.ImportApplicationRequest) (apps.Application, error) {
	var out apps.Application
	return out, r.do(ctx, http.MethodPut, "/applications/"+url.PathEscape(id), in, &out)
}

func (d directAPI) SigningKeys(ctx context.Context) (admin.SigningKeyList, error) {
	keys, err := d.apps.SigningKeys(ctx)
	out := admin.SigningKeyList{Keys: []admin.SigningKeyJSON{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, admin.SigningKeyJSONOf(k))
	}
	return out, err
}

func (d directAPI) RotateSigningKey(ctx context.Context) (admin.SigningKeyJSON, error) {
	k, err := d.apps.RotateSigningKey(d.ctx(ctx))
	return admin.SigningKeyJSONOf(k), err
}

func (r remoteAPI) SigningKeys(ctx context.Context) (admin.SigningKeyList, error) {
	var out admin.SigningKeyList
	return out, r.do(ctx, http.MethodGet, "/signing-keys", nil, &out)
}

func (r remoteAPI) RotateSigningKey(ctx context.Context) (admin.SigningKeyJSON, error) {
	var out admin.SigningKeyJSON
	return out, r.do(ctx, http.MethodPost, "/signing-keys", nil, &out)
}
