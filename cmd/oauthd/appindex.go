package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/oauthd/oauthd/store/redis"
)

// indexApplications writes the application search indexes once Redis
// answers, when an older oauthd left applications without them; on every
// later start RebuildAppIndexes finds them current and does nothing.
// Meanwhile the dashboard and the admin API list what is indexed so far.
func indexApplications(ctx context.Context, st *redis.Store, log *slog.Logger) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		start := time.Now()
		n, err := st.RebuildAppIndexes(ctx)
		if err == nil {
			if n > 0 {
				log.Info("application search indexes built", "applications", n, "took", time.Since(start).Round(time.Millisecond).String())
			}
			return
		}
		log.Warn("application search indexes not built yet; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
