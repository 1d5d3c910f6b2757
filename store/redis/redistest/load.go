package redistest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// LoadApplications creates n applications through s from 32 goroutines,
// as a deployment of that size would hold: names of three words out of a
// few (the last a number), a thousand owners, one a second. Client IDs
// are scale-000000 on.
func LoadApplications(t testing.TB, s store.Applications, n int) {
	t.Helper()
	words := []string{"sms", "billing", "reports", "gateway", "daemon", "export", "nightly", "portal", "push", "alerts"}
	ctx := context.Background()
	base := time.Now().Add(-time.Duration(n) * time.Second).UTC().Truncate(time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				a := store.Application{
					ClientID: fmt.Sprintf("scale-%06d", i),
					Name:     fmt.Sprintf("%s-%s-%d", words[i%len(words)], words[(i/len(words))%len(words)], i%97),
					Owner:    fmt.Sprintf("acct_%d", i%1000), Scopes: []string{"sms"}, Enabled: true,
					TokenLifetime: time.Hour, CreatedAt: base.Add(time.Duration(i) * time.Second),
				}
				if err := s.CreateApplication(ctx, a); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
