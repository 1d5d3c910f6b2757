package oauthclient

import (
	"io"
	"net/http"
	"strings"
)

// Transport returns an http.RoundTripper that presents c's token on each
// request through base (http.DefaultTransport when nil): a DPoP-bound
// token with the DPoP scheme and a fresh proof, any other as Bearer. A
// 401 use_dpop_nonce is retried once with the resource server's nonce.
func (c *Client) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base}
}

// HTTPClient is an http.Client on Transport(nil).
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: c.Transport(nil)}
}

type transport struct {
	c    *Client
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.c.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	dpop := tok.TokenType == "DPoP"
	origin := ""
	if dpop {
		origin = strings.ToLower(req.URL.Scheme + "://" + req.URL.Host)
	}
	res, err := t.send(req, req.Body, tok.AccessToken, dpop, origin)
	if err != nil || !dpop {
		return res, err
	}
	n := res.Header.Get("DPoP-Nonce")
	if n != "" {
		t.c.nonces.set(origin, n)
	}
	if res.StatusCode != http.StatusUnauthorized || n == "" || !asksNonce(res) {
		return res, nil
	}
	// RFC 9449 §9: retry once, with the nonce, if the body can be sent
	// again.
	body := req.Body
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return res, nil
		}
		if body, err = req.GetBody(); err != nil {
			return res, nil
		}
	}
	drain(res)
	return t.send(req, body, tok.AccessToken, true, origin)
}

// send sends a copy of req (a RoundTripper leaves its request alone) with
// the token and, for DPoP, a proof.
func (t *transport) send(req *http.Request, body io.ReadCloser, token string, dpop bool, origin string) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = body
	if !dpop {
		out.Header.Set("Authorization", "Bearer "+token)
		return t.base.RoundTrip(out)
	}
	proof, err := t.c.dpop.Proof(req.Method, req.URL.String(), token, t.c.nonces.get(origin))
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	out.Header.Set("Authorization", "DPoP "+token)
	out.Header.Set("DPoP", proof)
	return t.base.RoundTrip(out)
}

// asksNonce reports whether a 401 carries a DPoP challenge with the error
// use_dpop_nonce (RFC 9449 §9).
func asksNonce(res *http.Response) bool {
	for _, ch := range res.Header.Values("WWW-Authenticate") {
		if len(ch) >= 4 && strings.EqualFold(ch[:4], "DPoP") && strings.Contains(ch, `error="use_dpop_nonce"`) {
			return true
		}
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// drain reads what is left of a small body, so the connection can be
// reused, and closes it.
func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
}
