// Package health answers liveness and readiness probes.
//
// Liveness (/health/alive) checks nothing but that the process serves HTTP:
// a Redis outage must not make an orchestrator restart every replica, which
// would only add cold starts to the outage. Readiness (/health/ready) asks
// Redis with a deadline, so a load balancer stops sending token requests
// that can only fail and sends them again, by itself, once Redis answers.
// The names follow Hydra's; /healthz stays as an alias of readiness for the
// probes configured before they existed.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Paths of the probes.
const (
	AlivePath = "/health/alive"
	ReadyPath = "/health/ready"
	// LegacyPath is the readiness probe's old name.
	LegacyPath = "/healthz"
)

// Config configures a Checker.
type Config struct {
	// Ping reports whether the store answers; it must honour ctx's deadline.
	Ping func(ctx context.Context) error
	// Timeout bounds one readiness check; 0 means one second.
	Timeout time.Duration
	// Logger hears when readiness changes (not every probe).
	Logger *slog.Logger
}

// Checker serves the probes. It is safe for concurrent use.
type Checker struct {
	cfg Config

	mu    sync.Mutex
	ready bool // the last answer, to log only the changes
	known bool
}

// New returns a Checker.
func New(cfg Config) *Checker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{cfg: cfg}
}

// Status is a probe's JSON answer.
type Status struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks,omitempty"`
}

// Alive answers 200 while the process can serve a request at all.
func (c *Checker) Alive(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusOK, Status{Status: "ok"})
}

// Ready answers 200 when Redis answered within the timeout, 503 with
// Retry-After otherwise. The cause goes to the log, not to the caller: it
// names internal addresses.
func (c *Checker) Ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.Timeout)
	defer cancel()
	err := c.cfg.Ping(ctx)
	c.observe(err)
	if err != nil {
		result := "unreachable"
		if ctx.Err() == context.DeadlineExceeded {
			result = "timeout"
		}
		w.Header().Set("Retry-After", "1")
		write(w, http.StatusServiceUnavailable, Status{Status: "unavailable", Checks: map[string]string{"redis": result}})
		return
	}
	write(w, http.StatusOK, Status{Status: "ok", Checks: map[string]string{"redis": "ok"}})
}

// observe logs a change of readiness, once per change, so a long outage
// probed every few seconds leaves two lines rather than thousands.
func (c *Checker) observe(err error) {
	c.mu.Lock()
	changed := !c.known || c.ready != (err == nil)
	c.known, c.ready = true, err == nil
	c.mu.Unlock()
	switch {
	case !changed:
	case err != nil:
		c.cfg.Logger.Warn("not ready: redis does not answer", "cause", err.Error())
	default:
		c.cfg.Logger.Info("ready: redis answers")
	}
}

func write(w http.ResponseWriter, status int, s Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(s)
}
