//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// TestAtTimeSchedulesFireWhenStandardCronWould gives the embedded Temporal
// server a broad table of expressions in several zones through the API and
// checks the fire times Temporal itself computes (Describe →
// NextActionTimes) against the domain's Next — which TestCronNextMatchesRobfig
// holds to an independent cron implementation. Day-of-month and day-of-week
// are ORed when both are restricted, as standard cron does; Temporal alone
// would AND them.
func TestAtTimeSchedulesFireWhenStandardCronWould(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	exprs := []string{
		"0 0 1 * 1", "30 8 15 * 5", "0 0 13 * 5", "0 9 1,15 * MON-FRI", "0 12 10-20 JAN-MAR 2,4",
		"0 0 31 2 1", "0 0 */2 * 1", "0 0 ? * MON", "0 30 9 ? * MON-FRI", "0 */1 12 * * *",
		"*/15 9-17 * * 1-5", "0 0 1-7 * 0", "0 6 28-31 * FRI", "@weekly", "@monthly", "5/15 * * * *",
	}
	zones := []string{"UTC", "Europe/Kyiv", "America/New_York"}
	for _, z := range zones {
		loc := zone(t, z)
		for _, expr := range exprs {
			t.Run(z+" "+expr, func(t *testing.T) {
				c, err := domain.ParseCron(expr)
				if err != nil {
					t.Fatal(err)
				}
				created := time.Now()
				tr := postTrigger(t, s, map[string]any{"name": z + " " + expr, "type": "at_time", "flow": "report",
					"expression": expr, "timezone": z})
				if tr["expression_text"] != c.Describe() {
					t.Fatalf("expression_text %q, the domain says %q", tr["expression_text"], c.Describe())
				}
				if c.EitherDay && !strings.Contains(c.Describe(), " or ") {
					t.Fatalf("ORed days described without \"or\": %q", c.Describe())
				}
				d, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+tr["id"].(string)).Describe(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				described := time.Now()
				got := d.Info.NextActionTimes
				if len(got) < 5 {
					t.Fatalf("Temporal computed %d next times", len(got))
				}
				if n := len(d.Schedule.Spec.Calendars); (c.EitherDay && n != 2) || (!c.EitherDay && n != 1) {
					t.Fatalf("%d calendars for EitherDay=%v", n, c.EitherDay)
				}
				// Temporal counts from the moment of Describe: drop the
				// domain's times that passed between creating and describing.
				want := c.Next(created.Add(-time.Second), loc, len(got)+60)
				for len(want) > 0 && want[0].Before(got[0]) && !want[0].After(described) {
					want = want[1:]
				}
				if len(want) < len(got) {
					t.Fatalf("domain gave %d times, Temporal %d", len(want), len(got))
				}
				for i := range got {
					if !got[i].Equal(want[i]) {
						t.Fatalf("fire %d: Temporal %v, domain %v\n temporal %v\n domain   %v",
							i, got[i].In(loc), want[i].In(loc), got, want[:len(got)])
					}
				}
				// The API's next_runs are Temporal's, in the zone's offset.
				runs := temporalNextRuns(t, s, tr["id"].(string))
				j := 0
				for j < len(want) && want[j].Before(runs[0]) {
					j++
				}
				for i, at := range runs {
					if j+i >= len(want) || !at.Equal(want[j+i]) {
						t.Fatalf("next_runs %v are not the domain's %v", runs, want)
					}
				}
			})
		}
	}
}

// TestAtTimeScheduleRunsOnEitherDay fires real schedules: one whose
// day-of-month is today but whose day-of-week is not, and one the other way
// round. Standard cron runs both today (ORed days); Temporal with the two
// fields ANDed in one cron string would run neither.
func TestAtTimeScheduleRunsOnEitherDay(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	seedFlow(t, s.DB, "report", "service")
	now := time.Now().UTC()
	if tomorrow := now.Truncate(24 * time.Hour).Add(24 * time.Hour); tomorrow.Sub(now) < 2*time.Minute {
		time.Sleep(tomorrow.Sub(now) + time.Second) // stay on one UTC day
		now = time.Now().UTC()
	}
	otherDay := (int(now.Weekday()) + 3) % 7
	otherDom := now.Day()%28 + 1
	for name, expr := range map[string]string{
		"today's day of month": fmt.Sprintf("*/2 * * %d * %d", now.Day(), otherDay),
		"today's weekday":      fmt.Sprintf("*/2 * * %d * %d", otherDom, int(now.Weekday())),
	} {
		t.Run(name, func(t *testing.T) {
			tr := postTrigger(t, s, map[string]any{"name": name, "type": "at_time", "flow": "report",
				"expression": expr, "timezone": "UTC", "overlap_policy": "allow_all", "timeout": "1m"})
			if !strings.Contains(tr["expression_text"].(string), " or on ") {
				t.Fatalf("expression_text %q does not say or", tr["expression_text"])
			}
			run := runOf(t, s, "/v1/triggers/"+tr["id"].(string)+"/runs", "succeeded")
			if !strings.HasPrefix(run["workflow_id"].(string), "trigger-"+tr["id"].(string)+"-") {
				t.Fatalf("run %v was not started by the schedule", run)
			}
		})
	}
}
