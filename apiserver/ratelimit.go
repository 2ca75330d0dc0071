package apiserver

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// publishLimiter is a token bucket per principal (API key id) counting
// published events, so one noisy client cannot starve the rest. A nil
// limiter allows everything.
type publishLimiter struct {
	rate  rate.Limit
	burst int

	mu    sync.Mutex
	byKey map[string]*rate.Limiter
}

// newPublishLimiter returns nil (no limit) when perSecond is 0 or less. A
// burst below 1 becomes one second's worth of events.
func newPublishLimiter(perSecond float64, burst int) *publishLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = int(math.Max(1, math.Ceil(perSecond)))
	}
	return &publishLimiter{rate: rate.Limit(perSecond), burst: burst, byKey: map[string]*rate.Limiter{}}
}

// take spends n tokens of key's bucket and returns 0, or how long to wait
// before n tokens will be there (nothing is spent then). A batch larger
// than the burst costs the whole burst, so it can pass when the bucket is full.
func (l *publishLimiter) take(key string, n int, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	lim, ok := l.byKey[key]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byKey[key] = lim
	}
	l.mu.Unlock()
	n = min(n, l.burst)
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// limitPublishing charges n events to the caller's key; over the limit it
// sets Retry-After (whole seconds, rounded up) and returns errRateLimited.
func (s *Server) limitPublishing(c *gin.Context, n int) error {
	wait := s.publishLimit.take(principalFrom(c).KeyID, n, time.Now())
	if wait <= 0 {
		return nil
	}
	s.metrics.rateLimited.Add(float64(n))
	secs := int(math.Ceil(wait.Seconds()))
	c.Header("Retry-After", fmt.Sprint(secs))
	return fmt.Errorf("%w: this key may publish %g events per second (burst %d); retry in %d s",
		errRateLimited, float64(s.publishLimit.rate), s.publishLimit.burst, secs)
}
