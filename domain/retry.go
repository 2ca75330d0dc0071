package domain

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Retry presets named by the seeds.
const (
	// RetryEvery10m48h retries every 10 minutes for 48 hours until a 2xx (ipSCAPE).
	RetryEvery10m48h = "every_10m_48h"
	// Retry30sX3 retries after 30 seconds, up to two more tries (Cotalker).
	Retry30sX3 = "30s_x3"
	// RetryNone makes one try only.
	RetryNone = "none"
)

// Duration is a time.Duration that reads and writes Go duration strings ("30s").
type Duration time.Duration

// MarshalJSON writes the duration as a string like "10m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s"-style strings (and, leniently, seconds as
// numbers). A bad value is a *json.UnmarshalTypeError, so decoders name the
// field it came from.
func (d *Duration) UnmarshalJSON(b []byte) error {
	bad := &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeOf(Duration(0))}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n json.Number
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return bad
		}
		secs, err2 := n.Float64()
		if err2 != nil {
			return bad
		}
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return bad
	}
	*d = Duration(v)
	return nil
}

// RetryPolicy says how a failed delivery is retried. Either Preset is set, or
// the custom fields are. MaxAttempts counts the first try; 0 means no limit
// (ExpireAfter then bounds it).
type RetryPolicy struct {
	Preset          string   `json:"preset,omitempty"`
	InitialInterval Duration `json:"initial_interval,omitempty"`
	Backoff         float64  `json:"backoff,omitempty"`
	MaxInterval     Duration `json:"max_interval,omitempty"`
	MaxAttempts     int      `json:"max_attempts,omitempty"`
	ExpireAfter     Duration `json:"expire_after,omitempty"`
	// RetryAll also retries the 4xx answers that normally end a delivery at
	// once (400, 401, 403, 404, 410, 422).
	RetryAll bool `json:"retry_all,omitempty"`
}

// DefaultRetryPolicy is ipSCAPE's: every 10 minutes for 48 hours.
func DefaultRetryPolicy() RetryPolicy { return RetryPolicy{Preset: RetryEvery10m48h} }

// Resolved returns the concrete intervals of the policy, presets expanded.
func (p RetryPolicy) Resolved() RetryPolicy {
	out := p
	switch p.Preset {
	case RetryEvery10m48h:
		out.InitialInterval = Duration(10 * time.Minute)
		out.Backoff = 1
		out.MaxInterval = Duration(10 * time.Minute)
		out.MaxAttempts = 0
		out.ExpireAfter = Duration(48 * time.Hour)
	case Retry30sX3:
		out.InitialInterval = Duration(30 * time.Second)
		out.Backoff = 1
		out.MaxInterval = Duration(30 * time.Second)
		out.MaxAttempts = 3
		out.ExpireAfter = 0
	case RetryNone:
		out.MaxAttempts = 1
		out.InitialInterval, out.MaxInterval, out.ExpireAfter, out.Backoff = 0, 0, 0, 1
	}
	if out.Backoff == 0 {
		out.Backoff = 1
	}
	if out.MaxInterval == 0 {
		out.MaxInterval = out.InitialInterval
		if out.Backoff > 1 {
			out.MaxInterval = Duration(100 * time.Duration(out.InitialInterval))
		}
	}
	return out
}

// Validate checks a policy; paths are relative ("preset", "max_attempts").
func (p RetryPolicy) Validate() FieldErrors {
	f := FieldErrors{}
	if p.Preset != "" {
		switch p.Preset {
		case RetryEvery10m48h, Retry30sX3, RetryNone:
		default:
			f.Add("preset", fmt.Sprintf("%q is not a preset; use %s, %s or %s", p.Preset, RetryEvery10m48h, Retry30sX3, RetryNone))
		}
		if p.InitialInterval != 0 || p.Backoff != 0 || p.MaxInterval != 0 || p.MaxAttempts != 0 || p.ExpireAfter != 0 {
			f.Add("preset", "give either a preset or custom fields, not both")
		}
		return f
	}
	if p.InitialInterval <= 0 {
		f.Add("initial_interval", "is required for a custom policy (e.g. \"30s\")")
	} else if time.Duration(p.InitialInterval) < time.Second || time.Duration(p.InitialInterval) > 24*time.Hour {
		f.Add("initial_interval", "must be between 1s and 24h")
	}
	if p.Backoff != 0 && (p.Backoff < 1 || p.Backoff > 10) {
		f.Add("backoff", "must be between 1.0 and 10.0")
	}
	if p.MaxInterval != 0 && p.MaxInterval < p.InitialInterval {
		f.Add("max_interval", "must not be shorter than initial_interval")
	}
	if p.MaxAttempts < 0 || p.MaxAttempts > 1000 {
		f.Add("max_attempts", "must be between 1 and 1000 (0 = until expire_after)")
	}
	if p.ExpireAfter < 0 || time.Duration(p.ExpireAfter) > 30*24*time.Hour {
		f.Add("expire_after", "must be at most 720h (30 days)")
	}
	if p.MaxAttempts == 0 && p.ExpireAfter == 0 {
		f.Add("max_attempts", "set max_attempts or expire_after: nothing may retry forever")
	}
	return f
}

// What an HTTP answer means for a retry is decided here, for both kinds of
// outbound request. They differ by contract (README "Delivery rules", the
// http.request action's catalog entry): a webhook delivery retries every
// failed answer except the few that say the request itself is wrong
// (PermanentStatus), because a receiver that is down or misconfigured for a
// while should still get its events; a flow step calling an API retries
// only the answers that say "later" (RetryableStepStatus), because a step's
// call may not be safe to repeat.

// PermanentStatus reports HTTP answers that cannot succeed on retry and end a
// delivery at once unless the policy retries all.
func PermanentStatus(code int) bool {
	switch code {
	case 400, 401, 403, 404, 410, 422:
		return true
	}
	return false
}

// RetryableStepStatus reports the answers a flow step's HTTP call is
// retried on: 408, 429 and 5xx may succeed later; every other non-2xx
// answer (3xx included: redirects are not followed) will not.
func RetryableStepStatus(code int) bool { return code == 408 || code == 429 || code >= 500 }

// SuccessStatus reports whether an HTTP status counts as SUCCESS (2xx).
func SuccessStatus(code int) bool { return code >= 200 && code <= 299 }

// MaxRetryAfter bounds how long one receiver answer (its Retry-After header)
// may hold a delivery — or an ordered webhook's whole queue — before the
// next try.
const MaxRetryAfter = time.Hour

// Interval is the wait after try number try (1 for the first) of a retry
// window of the resolved policy p: the initial interval grown by the backoff
// coefficient for each try after the first, capped at the maximum interval —
// the schedule Temporal's retry policy follows.
func (p RetryPolicy) Interval(try int) time.Duration {
	d := float64(p.InitialInterval)
	for i := 1; i < try && d < float64(p.MaxInterval); i++ {
		d *= max(p.Backoff, 1)
	}
	if p.MaxInterval > 0 && d > float64(p.MaxInterval) {
		d = float64(p.MaxInterval)
	}
	return time.Duration(d)
}

// BoundRetryAfter bounds a receiver's Retry-After: at most MaxRetryAfter,
// and never past the end of the retry window (windowLeft; 0 or less when
// the policy has no expiry). ok is false when no time is left for another
// try inside the window.
func BoundRetryAfter(retryAfter, windowLeft time.Duration, hasExpiry bool) (time.Duration, bool) {
	d := min(max(retryAfter, 0), MaxRetryAfter)
	if hasExpiry {
		// Leave a moment for the try itself to start inside the window.
		left := windowLeft - time.Second
		if left <= 0 {
			return 0, false
		}
		d = min(d, left)
	}
	return d, true
}

// ActionRetryPolicy is the policy of a webhook action (ipSCAPE's trigger
// action): the preset named — every_10m_48h when none is — with every
// non-2xx answer retried, 4xx included, as ipSCAPE documents ("retried
// after 10 minutes, for 48 hours or until 2xx").
func ActionRetryPolicy(preset string) RetryPolicy {
	if preset == "" {
		preset = RetryEvery10m48h
	}
	return RetryPolicy{Preset: preset, RetryAll: true}
}
