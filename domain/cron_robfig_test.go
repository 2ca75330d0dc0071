package domain

import (
	"strings"
	"testing"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// robfig/cron v3 is a widely used, independent cron implementation: its
// next fire times are the expectations Next is measured against. Its known
// differences from standard cron, and how this test deals with them:
//
//   - "*/n" (n > 1) in a day field counts as restricted there (its starBit is
//     cleared), so "0 0 */2 * 1" is ORed; crontab(5) calls a field
//     restricted only when it does not start with "*", and ANDs it. Such
//     expressions are left out here and covered by the brute-force tests.
//   - Day of week is 0-6 only: "7" (Sunday) is written 0 for it.
//   - "@every d" counts from the previous run, not from the epoch as
//     Temporal does: not compared.
//   - DST: where a change skips midnight (America/Santiago) it can fire on
//     the wrong day; its midnight fix-up assumes whole-hour shifts, so in a zone
//     that moves by 30 minutes (Australia/Lord_Howe) it skips a whole day
//     near the change; such zones are covered by the brute-force tests only.
//     Around a repeated local hour it can step back into the hour it just
//     left. Next fires a repeated wall time at both instants and skips
//     a missing one; where robfig disagrees inside those hours, the times
//     are compared only outside them (dstSensitive).
//
// "?" means "*" in both, as here.
var robfigTable = []string{
	// The everyday expressions of a Webitel/ipSCAPE admin.
	"* * * * *", "*/5 * * * *", "0 * * * *", "0 9 * * *", "30 8 * * 1-5", "0 9 * * MON-FRI",
	"0 0 1 * *", "0 0 * * 0", "15 14 1 * *", "0 22 * * 1-5", "23 0-20/2 * * *", "5 4 * * sun",
	"0 0,12 1 */2 *", "0 4 8-14 * *", "0 0 1,15 * *", "0 12 * * SAT,SUN", "45 23 L-1 * *",
	// Standard cron's OR of restricted days (Temporal alone would AND them).
	"0 0 1 * 1", "30 8 15 * 5", "0 0 13 * 5", "0 9 1,15 * MON-FRI", "0 0 1-7 * 1", "0 6 28-31 * FRI",
	"0 0 29 2 1", "0 12 10-20 JAN-MAR 2,4", "0 0 31 2 1",
	// "?" and names.
	"0 0 ? * MON", "0 30 9 ? JAN-JUN *", "0 0 15 FEB ?",
	// Steps, ranges, lists, offsets.
	"5/15 * * * *", "1-59/2 0 * * *", "0 8-18/2 * * *", "0 0 1-10/3 * *", "0 0 * 1,4,7,10 *",
	// Around DST changes in several zones.
	"30 2 * * *", "30 1 * * *", "0 3 * * *", "30 3 * * *", "0 0 * * *", "*/20 1-4 * * *",
	// 6 fields with leading seconds (Webitel).
	"0 */1 12 * * *", "30 0 9 * * MON-FRI", "*/10 * 12 * * *", "0 0 0 1 * 1", "15 30 2 * * *",
	// Descriptors.
	"@yearly", "@monthly", "@weekly", "@daily", "@hourly",
}

var robfigZones = []string{"UTC", "Europe/Kyiv", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
	"America/Sao_Paulo", "Pacific/Chatham", "Europe/London", "America/Santiago", "America/Havana"}

func robfigSchedule(t *testing.T, expr string, loc *time.Location) robfig.Schedule {
	t.Helper()
	parser := robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)
	if len(strings.Fields(expr)) == 6 {
		parser = robfig.NewParser(robfig.Second | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow)
	}
	s, err := parser.Parse(expr)
	if err != nil {
		t.Fatalf("robfig cannot parse %q: %v", expr, err)
	}
	s.(*robfig.SpecSchedule).Location = loc
	return s
}

// dstSensitive reports whether the wall clock of t, or of the hours around
// it, is ambiguous or missing in loc, or t is on a day whose midnight is
// missing (Santiago, Havana: robfig's midnight fix-up then fires on the wrong
// day): robfig's stepping is not trusted there.
func dstSensitive(t time.Time, loc *time.Location) bool {
	y, m, d := t.In(loc).Date()
	for _, day := range []int{d - 1, d, d + 1} {
		if time.Date(y, m, day, 0, 0, 0, 0, loc).Hour() != 0 {
			return true
		}
	}
	for _, d := range []time.Duration{-90 * time.Minute, -time.Hour, 0, time.Hour, 90 * time.Minute} {
		a := t.Add(d)
		_, o1 := a.In(loc).Zone()
		_, o2 := a.Add(-3 * time.Hour).In(loc).Zone()
		_, o3 := a.Add(3 * time.Hour).In(loc).Zone()
		if o1 != o2 || o1 != o3 {
			return true
		}
	}
	return false
}

func TestCronNextMatchesRobfig(t *testing.T) {
	starts := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 27, 13, 7, 0, 0, time.UTC),
		time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC),  // US spring forward, Mar 8
		time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), // EU spring forward, Mar 29
		time.Date(2026, 4, 4, 10, 0, 0, 0, time.UTC),  // AU fall back, Apr 5
		time.Date(2026, 10, 3, 10, 0, 0, 0, time.UTC), // AU spring forward, Oct 4
		time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 31, 22, 0, 0, 0, time.UTC), // US fall back, Nov 1
		time.Date(2027, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2028, 2, 28, 0, 0, 0, 0, time.UTC), // leap year
	}
	const n = 40
	compared := 0
	for _, z := range robfigZones {
		loc, err := ValidateTimeZone(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range robfigTable {
			// robfig has no "L"; the entry checks that we refuse it too.
			if strings.Contains(expr, "L-") {
				if _, err := ParseCron(expr); err == nil {
					t.Errorf("ParseCron(%q) accepted what cron does not mean", expr)
				}
				continue
			}
			c, err := ParseCron(expr)
			if err != nil {
				t.Fatalf("ParseCron(%q): %v", expr, err)
			}
			sched := robfigSchedule(t, expr, loc)
			for _, start := range starts {
				got := c.Next(start, loc, n)
				var want []time.Time
				for at := start; len(want) < n; {
					at = sched.Next(at)
					if at.IsZero() {
						break
					}
					want = append(want, at)
				}
				// Both lists are cut at the earlier of their last times, so
				// that each covers the same span; instants inside a DST
				// change are left out; the rest must be identical, in order.
				if len(got) == 0 || len(want) == 0 {
					if len(got) != len(want) {
						t.Fatalf("%s %q after %v: ours %v, robfig %v", z, expr, start, got, want)
					}
					continue
				}
				end := got[len(got)-1]
				if want[len(want)-1].Before(end) {
					end = want[len(want)-1]
				}
				g, w := filterDST(upTo(got, end), loc), filterDST(upTo(want, end), loc)
				if len(g) != len(w) {
					t.Fatalf("%s %q after %v: %d times, robfig %d\n ours   %v\n robfig %v", z, expr, start, len(g), len(w), g, w)
				}
				for i := range g {
					if !g[i].Equal(w[i]) {
						t.Fatalf("%s %q after %v: fire %d is %v, robfig says %v", z, expr, start, i, g[i].In(loc), w[i].In(loc))
					}
				}
				compared += len(g)
			}
		}
	}
	if compared < 50_000 {
		t.Fatalf("only %d fire times compared", compared)
	}
	t.Logf("%d fire times equal to robfig/cron's", compared)
}

func filterDST(ts []time.Time, loc *time.Location) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if !dstSensitive(t, loc) {
			out = append(out, t)
		}
	}
	return out
}

func upTo(ts []time.Time, end time.Time) []time.Time {
	for i, t := range ts {
		if t.After(end) {
			return ts[:i]
		}
	}
	return ts
}

// TestCronOrDaysDifferFromTemporalsAnd pins the examples: standard
// cron's next runs, which Temporal's own cron strings (AND) would not give.
func TestCronOrDaysDifferFromTemporalsAnd(t *testing.T) {
	after := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for expr, want := range map[string][]string{
		"0 0 1 * 1":   {"2026-06-08 Mon", "2026-06-15 Mon", "2026-06-22 Mon", "2026-06-29 Mon", "2026-07-01 Wed", "2026-07-06 Mon"},
		"30 8 15 * 5": {"2026-06-05 Fri", "2026-06-12 Fri", "2026-06-15 Mon", "2026-06-19 Fri", "2026-06-26 Fri", "2026-07-03 Fri"},
	} {
		c, err := ParseCron(expr)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, at := range c.Next(after, time.UTC, len(want)) {
			got = append(got, at.Format("2006-01-02 Mon"))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: %v, want %v", expr, got, want)
		}
	}
}
