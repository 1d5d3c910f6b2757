package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/dpop"
)

// Sender-constrained tokens (issue 19): DPoP at the token endpoint and
// the FAPI 2.0 default. Certificate binding needs no setting: a token is
// bound to the certificate its client presented on the TLS listener.

func bindingSettings() []setting {
	return []setting{
		{Key: "dpop.max_age", Default: dpop.DefaultMaxAge, Usage: "how old a DPoP proof's iat may be at the token endpoint (RFC 9449 §11.1); its jti is remembered in Redis as long, so a proof works once on every replica"},
		{Key: "dpop.leeway", Default: dpop.DefaultLeeway, Usage: "how far in the future a DPoP proof's iat may be, for clients whose clocks run ahead"},
		{Key: "dpop.require_nonce", Default: false, Usage: "make DPoP proofs carry a server nonce (RFC 9449 §8): a proof without one is answered use_dpop_nonce with a DPoP-Nonce header. Nonces need no storage; every replica accepts another's when they share the sealing key (jwt.sealing_key_file)"},
		{Key: "dpop.nonce_lifetime", Default: dpop.DefaultNoncePeriod, Usage: "with dpop.require_nonce: a nonce is accepted for between one and two of these"},
		{Key: "fapi.max_token_lifetime", Default: server.DefaultFAPIMaxLifetime, Usage: "the longest a FAPI 2.0 application's access token lives: its lifetime, and the ttl a request asks for, are capped to it at issue (expires_in says so); 10m is the FAPI working group's figure for access tokens"},
		{Key: "fapi.default", Default: false, Usage: "hold every application without a profile of its own to the FAPI 2.0 client-credentials profile: private_key_jwt or mTLS client authentication, sender-constrained tokens, TLS only (an application opts out with profile none)"},
	}
}

// bindingConfig is the dpop.* and fapi.* keys.
type bindingConfig struct {
	DPoP struct {
		MaxAge        time.Duration `mapstructure:"max_age"`
		Leeway        time.Duration `mapstructure:"leeway"`
		RequireNonce  bool          `mapstructure:"require_nonce"`
		NonceLifetime time.Duration `mapstructure:"nonce_lifetime"`
	} `mapstructure:"dpop"`
	FAPI struct {
		Default          bool          `mapstructure:"default"`
		MaxTokenLifetime time.Duration `mapstructure:"max_token_lifetime"`
	} `mapstructure:"fapi"`
}

func (b *bindingConfig) validate() error {
	switch d := b.DPoP; {
	case d.MaxAge < time.Second || d.MaxAge > 10*time.Minute:
		return fmt.Errorf("%v: use between 1s and 10m (RFC 9449 wants a short window)", d.MaxAge)
	case d.Leeway < 0 || d.Leeway > time.Minute:
		return fmt.Errorf("dpop.leeway %v: use between 0s and 1m", d.Leeway)
	case d.NonceLifetime < 10*time.Second || d.NonceLifetime > time.Hour:
		return fmt.Errorf("dpop.nonce_lifetime %v: use between 10s and 1h", d.NonceLifetime)
	case b.FAPI.MaxTokenLifetime < time.Second || b.FAPI.MaxTokenLifetime > time.Hour:
		return fmt.Errorf("fapi.max_token_lifetime %v: use between 1s and 1h (FAPI 2.0 tokens are short-lived; 10m is the usual figure)", b.FAPI.MaxTokenLifetime)
	}
	return nil
}

// server is the server's BindingConfig. The nonce key is derived from the
// sealing key, which every replica shares; without one it is random in
// this process, which is right for one replica only (logged).
func (b *bindingConfig) server(c *Config, log *slog.Logger) server.BindingConfig {
	var key []byte
	if c.sealingKey != nil {
		m := hmac.New(sha256.New, c.sealingKey)
		m.Write([]byte("oauthd dpop nonce key"))
		key = m.Sum(nil)
	} else if b.DPoP.RequireNonce {
		log.Warn("dpop.require_nonce without a sealing key (jwt.sealing_key_file): each replica makes its own nonces, which the others refuse; fine for one replica only")
	}
	return server.BindingConfig{
		DPoPMaxAge: b.DPoP.MaxAge, DPoPLeeway: b.DPoP.Leeway,
		RequireNonce: b.DPoP.RequireNonce, NonceKey: key, NoncePeriod: b.DPoP.NonceLifetime,
		TLS: c.tls != nil, FAPIDefault: b.FAPI.Default, FAPIMaxLifetime: b.FAPI.MaxTokenLifetime,
	}
}
