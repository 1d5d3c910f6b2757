package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// httpClient talks to the servers under test over keep-alive connections,
// as a daemon or a resource server would.
func httpClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		// No proxy: everything here is on loopback.
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns},
	}
}

// credentials are an application's client_id and secret.
type credentials struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// basic is the Authorization header value for HTTP Basic (RFC 6749 §2.3.1
// form-encodes each part first).
func (c credentials) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret)))
}

// oauthdClient drives one oauthd over HTTP: the admin API to set up, the
// token and introspection endpoints to check and to fill Redis.
type oauthdClient struct {
	base     string // http://127.0.0.1:port
	adminKey string
	http     *http.Client
}

// createApp creates an application through the admin API.
func (c *oauthdClient) createApp(ctx context.Context, name string, scopes []string, format ...string) (credentials, error) {
	in := map[string]any{"name": name, "scopes": scopes, "token_lifetime": "24h"}
	if len(format) > 0 {
		in["token_format"] = format[0]
	}
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/admin/v1/applications", strings.NewReader(string(body)))
	if err != nil {
		return credentials{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.adminKey)
	var app credentials
	if err := doJSON(c.http, req, http.StatusCreated, &app); err != nil {
		return app, fmt.Errorf("creating application %s: %w", name, err)
	}
	if app.ID == "" || app.Secret == "" {
		return app, fmt.Errorf("creating application %s: the answer has no client_id or client_secret", name)
	}
	return app, nil
}

// issue gets one token with the client-credentials grant.
func (c *oauthdClient) issue(ctx context.Context, app credentials) (string, error) {
	return fetchToken(ctx, c.http, c.base+"/oauth/token", app)
}

// fetchToken posts a client-credentials request to tokenURL (oauthd's or
// the baseline's) and returns the access token.
func fetchToken(ctx context.Context, hc *http.Client, tokenURL string, app credentials) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", app.basic())
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := doJSON(hc, req, http.StatusOK, &tok); err != nil {
		return "", fmt.Errorf("POST %s: %w", tokenURL, err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		return "", fmt.Errorf("POST %s: not a bearer token answer", tokenURL)
	}
	return tok.AccessToken, nil
}

// active asks the introspection endpoint whether token is active.
func (c *oauthdClient) active(ctx context.Context, caller credentials, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth/introspect", strings.NewReader("token="+url.QueryEscape(token)))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", caller.basic())
	var ans struct {
		Active bool `json:"active"`
	}
	if err := doJSON(c.http, req, http.StatusOK, &ans); err != nil {
		return false, fmt.Errorf("introspection: %w", err)
	}
	return ans.Active, nil
}

// doJSON sends req and decodes a JSON answer of the wanted status into v
// (nil: only check the status).
func doJSON(hc *http.Client, req *http.Request, want int, v any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("status %d, want %d: %s", resp.StatusCode, want, strings.TrimSpace(string(body)))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding the answer: %v", err)
	}
	return nil
}

// expectOK sends one request and fails unless it is answered 200; it is
// each wrk target's check before load, since wrk would only count
// failures, not say why.
func expectOK(ctx context.Context, hc *http.Client, method, target, body string, headers ...string) error {
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	if err := doJSON(hc, req, http.StatusOK, nil); err != nil {
		return fmt.Errorf("%s %s: %w", method, target, err)
	}
	return nil
}

// parallel calls f for i in [0, n) from workers goroutines and stops at the
// first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := f(ctx, i); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}
