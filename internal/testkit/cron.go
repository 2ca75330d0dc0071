package testkit

import (
	"testing"
	"time"
)

// MinutesOfHour is an independent reckoning of a cron expression such as
// "0 */1 12 * * *" (every minute of one hour) in zone: the next n whole
// minutes after from whose local hour is hour, RFC 3339 with the zone's
// offset. Tests compare the server's next runs with it, not with the
// server's own parser.
func MinutesOfHour(t testing.TB, zone string, hour int, from time.Time, n int) []string {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for m := from.Truncate(time.Minute).Add(time.Minute); len(out) < n; m = m.Add(time.Minute) {
		if local := m.In(loc); local.Hour() == hour {
			out = append(out, local.Format(time.RFC3339))
		}
	}
	return out
}
