package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/server/admin"
	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// adminConn is the admin API the verbs use, in either mode: a running
// server's (--endpoint), or the admin handler built here on the
// configured Redis and called in process. Both are the same handler on
// the same service, so both authenticate, validate and audit alike.
type adminConn struct {
	*adminapi.Client
	// remote is set for a running server's API.
	remote bool
	// cfg is the configuration the flags gave.
	cfg *Config
}

// explain words an error answer for the operator: a running server's as
// the server's answer, the in-process handler's in the service's own
// words (there is no server to speak of).
func (a adminConn) explain(err error) error {
	var e *adminapi.Error
	switch {
	case !errors.As(err, &e):
		return err
	case a.remote:
		return fmt.Errorf("server answered %w", err)
	}
	return serviceError{e}
}

// serviceError is an error answer of the in-process handler, printed as
// its description.
type serviceError struct{ answer *adminapi.Error }

func (e serviceError) Error() string {
	if d := e.answer.Detail.String(); d != "" {
		return e.answer.Description + "; " + d
	}
	return e.answer.Description
}
func (e serviceError) Unwrap() error { return e.answer }

// open returns the admin API the flags point at and a function to release
// it.
func (c *cli) open(cmd *cobra.Command) (adminConn, func(), error) {
	cfg, err := loadConfig(cmd.Flags(), cliSettings(), c.getenv)
	if err != nil {
		return adminConn{}, nil, err
	}
	if cfg.Endpoint != "" {
		key := c.getenv("OAUTHD_ADMIN_KEY")
		if key == "" {
			return adminConn{}, nil, errors.New("--endpoint needs an admin credential in OAUTHD_ADMIN_KEY: an admin key, or an access token with the applications scope")
		}
		api := adminapi.NewClient(cfg.Endpoint, key, &http.Client{Timeout: 30 * time.Second})
		return adminConn{Client: api, remote: true, cfg: cfg}, func() {}, nil
	}
	if cfg.embeddedRedis() {
		return adminConn{}, nil, errors.New("give --endpoint (OAUTHD_ENDPOINT) to use a running server's admin API, or --redis-url (OAUTHD_REDIS_URL, or the Sentinel or Cluster settings) to work on its Redis directly; the embedded store lives only inside a running 'oauthd serve'")
	}
	log := newLogger(cfg, c.stderr)
	// go-redis's own lines (Sentinel discovery, dial failures) go through
	// the log too, graded, not raw onto the terminal.
	redis.SetLibraryLogger(log)
	rdb, _, closeRedis, err := openRedis(cfg, log)
	if err != nil {
		return adminConn{}, nil, err
	}
	if err := pingRedis(cmd.Context(), cfg, rdb); err != nil {
		closeRedis()
		return adminConn{}, nil, err
	}
	st := redis.New(rdb, redis.Options{Prefix: cfg.Redis.Prefix})
	// The same custody as serve's: without a sealing key there is no ring,
	// and the keys verbs say what is missing.
	ring, err := newKeyRing(cfg, st, false)
	if err != nil {
		closeRedis()
		return adminConn{}, nil, err
	}
	opts := apps.Options{MaxGrace: cfg.Admin.MaxGrace, Logger: log, KeyPublishDelay: cfg.JWT.PublishDelay, Limits: cfg.limits}
	if ring != nil {
		opts.Keys, opts.Seal = ring, ring.SealSecret
	}
	svc := apps.New(st, cfg.catalogue, opts)
	// The handler accepts one key, minted for this process and never shown:
	// the audit log names its changes' actor "cli". Only failures (a 5xx,
	// with its cause) reach the log; the answers are the verbs' to print.
	key := credential.NewAdminKey()
	h := admin.New(admin.Config{
		NamedKeys: map[store.Digest]string{store.Sum(key): "cli"},
		Logger:    log, AccessLogger: slog.New(slog.DiscardHandler),
	}, svc, st).Handler()
	api := adminapi.NewClient("http://in-process", key, &http.Client{Transport: adminapi.InProcess(h)})
	return adminConn{Client: api, cfg: cfg}, closeRedis, nil
}

// verb wraps a command's work with opening and closing the admin API, and
// words its error answers.
func (c *cli) verb(run func(ctx context.Context, api adminConn, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		api, closeAPI, err := c.open(cmd)
		if err != nil {
			return err
		}
		defer closeAPI()
		return api.explain(run(cmd.Context(), api, args))
	}
}
