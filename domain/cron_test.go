package domain

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // every listed zone must load on machines without tzdata
)

func kyiv(t testing.TB) *time.Location {
	t.Helper()
	loc, err := ValidateTimeZone("Europe/Kyiv")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{strings.Repeat("1,", 200) + "1 * * * *", "at most 256"},
		{"* * * *", "has 4 fields"},
		{"0 */1 12 * * * *", "has 7 fields"},
		{"61 * * * *", "field 1 (minutes): 61 is out of range 0-59"},
		{"0 61 * * * *", "field 2 (minutes): 61 is out of range 0-59"},
		{"60 * * * * *", "field 1 (seconds): 60 is out of range 0-59"},
		{"0 24 * * *", "field 2 (hours): 24 is out of range 0-23"},
		{"0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31"},
		{"0 0 32 * *", "field 3 (day of month): 32 is out of range 1-31"},
		{"0 0 * 13 *", "field 4 (month): 13 is out of range 1-12"},
		{"0 0 * * 8", "field 5 (day of week): 8 is out of range 0-7"},
		{"0 0 * JANUARY *", `field 4 (month): "JANUARY" is not a number or a month name (JAN-DEC)`},
		{"0 0 * * FUN", `field 5 (day of week): "FUN" is not a number or a day name (SUN-SAT)`},
		{"? * * * *", `field 1 (minutes): "?" is allowed only in the day-of-month and day-of-week fields`},
		{"*/0 * * * *", "field 1 (minutes): step 0 is out of range 1-59"},
		{"*/60 * * * *", "step 60 is out of range 1-59"},
		{"*/x * * * *", `step "x" is not a positive whole number`},
		{"*/ * * * *", `step "" is not a positive whole number`},
		{"*/-1 * * * *", `step "-1" is not a positive whole number`},
		{"1/2/3 * * * *", `step "2/3" is not a positive whole number`},
		{"10-5 * * * *", "range 10-5 is backwards"},
		{"5- * * * *", "a range is missing a value"},
		{"1-2-3 * * * *", `"2-3" is not a number`},
		{"1,,2 * * * *", "empty list item"},
		{"L * * * *", `"L" is not a number`},
		{"0 0 * * 5#3", `"5#3" is not a number`},
		{"00000 * * * *", "is out of range 0-59"},
		{"0 0 31 2 *", "never fires"},
		{"0 0 30,31 2,4 *", ""}, // April 30 exists
		{"@often", "is not a cron descriptor"},
		{"@daily 5", "is not a cron descriptor"},
		{"@every", "needs a duration"},
		{"@every 500ms", "shorter than the minimum of 1s"},
		{"@every soon", "is not a duration"},
		{"@every 1h/5m", "is not a duration"},
		{"@every 1500ms", "not a whole number of seconds"},
	}
	for _, tc := range tests {
		c, err := ParseCron(tc.expr)
		if tc.want == "" {
			if err != nil {
				t.Errorf("ParseCron(%q): %v", tc.expr, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCron(%.40q) = %v, %v; want error containing %q", tc.expr, c, err, tc.want)
		}
	}
}

func TestCronCalendars(t *testing.T) {
	r := func(a, b, step int) CronRange { return CronRange{Start: a, End: b, Step: step} }
	all := func(a, b int) []CronRange { return []CronRange{r(a, b, 1)} }
	one := func(v int) []CronRange { return []CronRange{r(v, v, 1)} }
	tests := []struct {
		expr      string
		eitherDay bool
		want      []CronCalendar
	}{
		// Webitel's 6-field form: the leading field is seconds, never a year.
		{"0 */1 12 * * *", false, []CronCalendar{{Second: one(0), Minute: all(0, 59), Hour: one(12),
			DayOfMonth: all(1, 31), Month: all(1, 12), DayOfWeek: all(0, 6), Comment: "0 */1 12 * * *"}}},
		{"*/15 9-17 * * MON-FRI", false, []CronCalendar{{Second: one(0), Minute: []CronRange{r(0, 45, 15)}, Hour: all(9, 17),
			DayOfMonth: all(1, 31), Month: all(1, 12), DayOfWeek: all(1, 5), Comment: "*/15 9-17 * * MON-FRI"}}},
		// Standard cron ORs restricted days: two calendars, one per day field.
		{"0 0 1 * 1", true, []CronCalendar{
			{Second: one(0), Minute: one(0), Hour: one(0), DayOfMonth: one(1), Month: all(1, 12), DayOfWeek: all(0, 6), Comment: "0 0 1 * 1 (day of month)"},
			{Second: one(0), Minute: one(0), Hour: one(0), DayOfMonth: all(1, 31), Month: all(1, 12), DayOfWeek: one(1), Comment: "0 0 1 * 1 (day of week)"},
		}},
		{"30 8 15 JAN,JUL 5,0", true, []CronCalendar{
			{Second: one(0), Minute: one(30), Hour: one(8), DayOfMonth: one(15), Month: []CronRange{r(1, 1, 1), r(7, 7, 1)}, DayOfWeek: all(0, 6), Comment: "30 8 15 JAN,JUL 5,0 (day of month)"},
			{Second: one(0), Minute: one(30), Hour: one(8), DayOfMonth: all(1, 31), Month: []CronRange{r(1, 1, 1), r(7, 7, 1)}, DayOfWeek: []CronRange{r(0, 0, 1), r(5, 5, 1)}, Comment: "30 8 15 JAN,JUL 5,0 (day of week)"},
		}},
		// A day field starting with * or ? is not restricted: one ANDed calendar.
		{"0 0 */2 * 1", false, []CronCalendar{{Second: one(0), Minute: one(0), Hour: one(0),
			DayOfMonth: []CronRange{r(1, 31, 2)}, Month: all(1, 12), DayOfWeek: one(1), Comment: "0 0 */2 * 1"}}},
		{"0 30 9 ? * 5-7", false, []CronCalendar{{Second: one(0), Minute: one(30), Hour: one(9),
			DayOfMonth: all(1, 31), Month: all(1, 12), DayOfWeek: []CronRange{r(0, 0, 1), r(5, 6, 1)}, Comment: "0 30 9 ? * 5-7"}}},
		{"@weekly", false, []CronCalendar{{Second: one(0), Minute: one(0), Hour: one(0),
			DayOfMonth: all(1, 31), Month: all(1, 12), DayOfWeek: one(0), Comment: "@weekly"}}},
		{"@every 30m", false, nil},
	}
	for _, tc := range tests {
		c, err := ParseCron(tc.expr)
		if err != nil {
			t.Fatalf("ParseCron(%q): %v", tc.expr, err)
		}
		if c.EitherDay != tc.eitherDay {
			t.Errorf("%q: EitherDay = %v", tc.expr, c.EitherDay)
		}
		if got := c.Calendars(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Calendars(%q) =\n%+v\nwant\n%+v", tc.expr, got, tc.want)
		}
	}
}

func TestCronDescribe(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{"0 */1 12 * * *", "Every minute between 12:00 and 12:59"},
		{"0 9 * * 1-5", "At 09:00, Monday through Friday"},
		{"*/30 * * * *", "Every 30 minutes"},
		{"@daily", "Every day at 00:00"},
		{"@midnight", "Every day at 00:00"},
		{"@hourly", "Every hour"},
		{"@weekly", "At 00:00, only on Sunday"},
		{"@monthly", "At 00:00, on day 1 of the month"},
		{"@yearly", "At 00:00, on day 1 of the month, only in January"},
		{"@every 30s", "Every 30 seconds"},
		{"@every 1h", "Every hour"},
		{"@every 90m", "Every 90 minutes"},
		{"@every 1h0m1s", "Every 3601 seconds"},
		{"* * * * *", "Every minute"},
		{"* * * * * *", "Every second"},
		{"*/10 * * * * *", "Every 10 seconds"},
		{"30 * * * * *", "At second 30 of every minute"},
		{"*/10 * 12 * * *", "Every 10 seconds between 12:00 and 12:59"},
		{"0 9 * * *", "Every day at 09:00"},
		{"15 30 9 * * *", "Every day at 09:30:15"},
		{"0 9,17 * * *", "Every day at 09:00 and 17:00"},
		{"30 9 * * 1,3,5", "At 09:30, only on Monday, Wednesday and Friday"},
		{"0 9 * * MON-FRI", "At 09:00, Monday through Friday"},
		{"0 9 * * 5-7", "At 09:00, Friday through Sunday"},
		{"15 * * * *", "At 15 minutes past every hour"},
		{"0 */2 * * *", "Every 2 hours"},
		{"0 9-17 * * *", "Every hour from 09:00 through 17:00"},
		{"30 9-17 * * 1-5", "Every hour from 09:30 through 17:30, Monday through Friday"},
		{"*/15 9-17 * * *", "Every 15 minutes between 09:00 and 17:59"},
		{"0,30 9-17 * * *", "At minutes 0 and 30 past the hour between 09:00 and 17:59"},
		{"5/15 * * * *", "At minutes 5, 20, 35 and 50 past the hour"},
		{"0 0 13 * 5", "At 00:00, on day 13 of the month or on Friday"},
		{"0 0 1-7 * MON", "At 00:00, on days 1 through 7 of the month or on Monday"},
		{"0 0 1 * 1", "At 00:00, on day 1 of the month or on Monday"},
		{"30 8 15 * 5", "At 08:30, on day 15 of the month or on Friday"},
		{"0 9 1,15 * MON-FRI", "At 09:00, on days 1 and 15 of the month or on Monday through Friday"},
		{"0 0 1 JAN 1", "At 00:00, on day 1 of the month or on Monday, only in January"},
		{"0 0 1-31 * 1", "Every day at 00:00"},
		{"0 0 */2 * 1", "At 00:00, on every 2nd day of the month from day 1, only if it falls on Monday"},
		{"0 0 ? * 1", "At 00:00, only on Monday"},
		{"CRON_TZ=Europe/Kyiv 0 9 * * *", ""},
		{"0 0 1,15 * *", "At 00:00, on days 1 and 15 of the month"},
		{"0 0 L * *", ""},
		{"0 0 1 */3 *", "At 00:00, on day 1 of the month, only in January, April, July and October"},
		{"0 0 1 JAN-MAR *", "At 00:00, on day 1 of the month, January through March"},
		{"0 8-18/2 * * *", "Every day at 08:00, 10:00, 12:00, 14:00, 16:00 and 18:00"},
		{"0 0 */2 * *", "At 00:00, on every 2nd day of the month from day 1"},
	}
	for _, tc := range tests {
		c, err := ParseCron(tc.expr)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseCron(%q) accepted it", tc.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCron(%q): %v", tc.expr, err)
			continue
		}
		if got := c.Describe(); got != tc.want {
			t.Errorf("Describe(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// vixieDaysOred applies crontab(5) to the expression's text, independently
// of the parser's calendars: the day fields are ORed when neither starts
// with * (or ?).
func vixieDaysOred(c *CronExpression) bool {
	src := c.Source
	if fields, ok := cronDescriptors[strings.ToLower(src)]; ok {
		src = fields
	}
	parts := strings.Fields(src)
	dom, dow := parts[len(parts)-3], parts[len(parts)-1]
	star := func(f string) bool { return f[0] == '*' || f[0] == '?' }
	return !star(dom) && !star(dow)
}

// bruteForceFires lists the fire times in (after, end] by testing every second
// (or every minute for 5-field forms) as an instant: a wall time that a DST
// change skips never occurs, a repeated one occurs twice. That is the
// behaviour Next must reproduce.
func bruteForceFires(c *CronExpression, after, end time.Time, loc *time.Location) []time.Time {
	ored := vixieDaysOred(c)
	var out []time.Time
	step := time.Second
	t := after.Truncate(time.Second).Add(time.Second)
	if !c.Seconds {
		step = time.Minute
		t = after.Truncate(time.Minute).Add(time.Minute)
	}
	for ; !t.After(end); t = t.Add(step) {
		l := t.In(loc)
		h, m, s := l.Clock()
		domOK, dowOK := c.fields[cronDom].has(l.Day()), c.fields[cronDow].has(int(l.Weekday()))
		dayOK := domOK && dowOK
		if ored {
			dayOK = domOK || dowOK
		}
		if c.fields[cronMonth].has(int(l.Month())) && dayOK &&
			c.fields[cronHour].has(h) && c.fields[cronMin].has(m) && c.fields[cronSec].has(s) {
			out = append(out, l)
		}
	}
	return out
}

func checkNextAgainstBruteForce(t *testing.T, c *CronExpression, after time.Time, window time.Duration, loc *time.Location) {
	t.Helper()
	want := bruteForceFires(c, after, after.Add(window), loc)
	got := c.Next(after, loc, len(want)+1)
	if len(got) < len(want) {
		t.Fatalf("%q after %v: Next gave %d times, brute force %d (%v vs %v)", c.Source, after, len(got), len(want), got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%q after %v: fire %d is %v, brute force %v", c.Source, after, i, got[i], want[i])
		}
	}
	if len(got) > len(want) && !got[len(want)].After(after.Add(window)) {
		t.Fatalf("%q after %v: Next gave extra time %v inside the window", c.Source, after, got[len(want)])
	}
	for i, g := range got {
		if !g.After(after) || (i > 0 && !g.After(got[i-1])) {
			t.Fatalf("%q: times not strictly increasing after %v: %v", c.Source, after, got)
		}
		if g.Location() != loc {
			t.Fatalf("%q: time %v not in %v", c.Source, g, loc)
		}
	}
}

func TestCronNextDST(t *testing.T) {
	loc := kyiv(t)
	// Kyiv moves 03:00 → 04:00 on 2026-03-29 and 04:00 → 03:00 on 2026-10-25.
	spring := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	autumn := time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC)
	exprs := []string{
		"30 3 * * *", "0 3 * * *", "0 4 * * *", "0 * * * *", "*/20 * * * *", "59 2,3 * * *",
		"0 30 3 * * *", "*/15 * 3 * * *", "0 0 0 * * *", "0 */1 12 * * *", "0 9 * * 1-5",
		"0 0 * * 0", "0 3 28-30 3,10 *", "@hourly", "@daily",
	}
	for _, e := range exprs {
		c, err := ParseCron(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, start := range []time.Time{spring, autumn} {
			checkNextAgainstBruteForce(t, c, start, 48*time.Hour, loc)
		}
	}

	// The explicit cases: skipped once, repeated twice.
	c, _ := ParseCron("30 3 * * *")
	got := c.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), loc, 2)
	if want := time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC); !got[0].Equal(want) {
		t.Errorf("03:30 on 2026-03-29 does not exist in Kyiv; first fire %v, want %v", got[0], want)
	}
	got = c.Next(time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), loc, 3)
	want := []time.Time{
		time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), // 03:30 EEST
		time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), // 03:30 EET
		time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC),
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("autumn fire %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestCronNext(t *testing.T) {
	loc := kyiv(t)
	ny, _ := ValidateTimeZone("America/New_York")
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Webitel's example: every minute from 12:00 to 12:59 local time.
	c, _ := ParseCron("0 */1 12 * * *")
	got := c.Next(after, loc, 61)
	if got[0].Format(time.RFC3339) != "2026-01-01T12:00:00+02:00" || got[59].Format(time.RFC3339) != "2026-01-01T12:59:00+02:00" ||
		got[60].Format(time.RFC3339) != "2026-01-02T12:00:00+02:00" {
		t.Errorf("0 */1 12 * * *: %v … %v, %v", got[0], got[59], got[60])
	}

	// Day of month OR day of week, as standard cron does: the 13th and
	// every Friday (Temporal alone would give Fridays the 13th only).
	c, _ = ParseCron("0 0 13 * 5")
	var days []string
	for _, f := range c.Next(after, loc, 6) {
		days = append(days, f.Format("Jan 2 Mon"))
	}
	if got, want := strings.Join(days, ", "), "Jan 2 Fri, Jan 9 Fri, Jan 13 Tue, Jan 16 Fri, Jan 23 Fri, Jan 30 Fri"; got != want {
		t.Errorf("0 0 13 * 5 fires on %s, want %s", got, want)
	}
	// Starting with * (even */2) leaves a day field unrestricted: ANDed.
	c, _ = ParseCron("0 0 */2 * 1")
	for _, f := range c.Next(after, loc, 5) {
		if f.Day()%2 != 1 || f.Weekday() != time.Monday {
			t.Errorf("0 0 */2 * 1 fired on %v, want Mondays on odd days only", f)
		}
	}

	// Leap day.
	c, _ = ParseCron("0 0 29 2 *")
	if got := c.Next(after, ny, 2); got[0].Format("2006-01-02") != "2028-02-29" || got[1].Format("2006-01-02") != "2032-02-29" {
		t.Errorf("leap days: %v", got)
	}

	// Strictly after: a fire time equal to after is not repeated.
	c, _ = ParseCron("0 12 * * *")
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, loc)
	if got := c.Next(at, loc, 1); !got[0].Equal(at.AddDate(0, 0, 1)) {
		t.Errorf("Next at a fire time = %v", got)
	}

	// @every is aligned to the Unix epoch, as Temporal's intervals are.
	c, _ = ParseCron("@every 30m")
	got = c.Next(time.Date(2026, 1, 1, 10, 7, 0, 0, time.UTC), loc, 3)
	for i, want := range []string{"10:30", "11:00", "11:30"} {
		if got[i].UTC().Format("15:04") != want {
			t.Errorf("@every 30m fire %d = %v, want %s UTC", i, got[i], want)
		}
	}
	c, _ = ParseCron("@every 7s")
	got = c.Next(time.Unix(13, 0), nil, 2)
	if got[0].Unix() != 14 || got[1].Unix() != 21 || got[0].Location() != time.UTC {
		t.Errorf("@every 7s = %v", got)
	}
	got = c.Next(time.Unix(-10, 0), nil, 2)
	if got[0].Unix() != -7 || got[1].Unix() != 0 {
		t.Errorf("@every 7s before the epoch = %v", got)
	}

	c, _ = ParseCron("@every 2000000h")
	if got := c.Next(after, nil, 10); len(got) != 0 {
		t.Errorf("@every 2000000h fires before 2100: %v", got)
	}
	c, _ = ParseCron("@every 24h")
	old := time.Date(1200, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := c.Next(old, nil, 2); len(got) != 2 || !got[0].Equal(old.AddDate(0, 0, 1)) || !got[1].Equal(old.AddDate(0, 0, 2)) {
		t.Errorf("@every 24h after year 1200: %v", got)
	}
	if got := c.Next(time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), nil, 2); len(got) != 0 {
		t.Errorf("@every after 2100: %v", got)
	}

	// Degenerate arguments.
	if c.Next(after, loc, 0) != nil || c.Next(after, loc, -1) != nil {
		t.Error("n <= 0 must give nil")
	}
	c, _ = ParseCron("0 0 * * *")
	if got := c.Next(time.Date(2100, 12, 31, 1, 0, 0, 0, time.UTC), nil, 3); len(got) != 0 {
		t.Errorf("fire times after 2100: %v", got)
	}
	if got := c.Next(after, nil, 1); got[0].Location() != time.UTC {
		t.Error("nil location is not UTC")
	}
}

func TestCronNextMatchesBruteForce(t *testing.T) {
	zones := []string{"UTC", "Europe/Kyiv", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago"}
	exprs := []string{
		"* * * * *", "0 0 * * *", "30 2 * * *", "0 0 1 * *", "*/7 1-3 * * 0,6", "0 0 */5 * 1-5",
		"15 10 * FEB-APR MON", "0 0 13 * 5", "5 4 * * 0", "0 0 1,15,31 * *", "0 12 * * 7", "1-5/2 0 * * *",
	}
	starts := []time.Time{
		time.Date(2026, 3, 27, 5, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 4, 5, 0, 0, 0, time.UTC),
		time.Date(2026, 9, 5, 5, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 3, 5, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 31, 5, 0, 0, 0, time.UTC),
	}
	for _, z := range zones {
		loc, err := ValidateTimeZone(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range exprs {
			c, err := ParseCron(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range starts {
				checkNextAgainstBruteForce(t, c, s, 72*time.Hour, loc)
			}
		}
	}
}

func TestValidateTimeZone(t *testing.T) {
	for _, ok := range []string{"UTC", "Europe/Kyiv", "America/New_York", "Asia/Kolkata", "Etc/GMT+3"} {
		if _, err := ValidateTimeZone(ok); err != nil {
			t.Errorf("ValidateTimeZone(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/Kyiv ", "utc", "Europe\\Kyiv", strings.Repeat("A", 65)} {
		if loc, err := ValidateTimeZone(bad); err == nil {
			t.Errorf("ValidateTimeZone(%q) = %v, want an error", bad, loc)
		}
	}
	a, _ := ValidateTimeZone("Europe/Kyiv")
	b, _ := ValidateTimeZone("Europe/Kyiv")
	if a != b {
		t.Error("zones are not cached")
	}
}

func TestTimeZones(t *testing.T) {
	zones := TimeZones()
	if len(zones) < 300 {
		t.Fatalf("only %d zones", len(zones))
	}
	if !sort.StringsAreSorted(zones) {
		t.Error("zones are not sorted")
	}
	seen := map[string]bool{}
	for _, z := range zones {
		if seen[z] {
			t.Errorf("duplicate zone %q", z)
		}
		seen[z] = true
		if _, err := ValidateTimeZone(z); err != nil {
			t.Errorf("listed zone %q does not load: %v", z, err)
		}
	}
	for _, must := range []string{"UTC", "Europe/Kyiv", "Australia/Sydney", "America/Sao_Paulo"} {
		if !seen[must] {
			t.Errorf("%q missing", must)
		}
	}
	zones[0] = "changed"
	if TimeZones()[0] == "changed" {
		t.Error("TimeZones shares its slice")
	}
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 */1 12 * * *", "0 9 * * 1-5", "*/30 * * * *", "@daily", "@every 90s",
		"0 0 13 * 5", "0 0 1 * 1", "0 0 */2 * 1", "5/15 0-23/2 1,15 JAN-MAR,DEC SUN-SAT", "59 59 23 31 12 7", "? * * * *", "0 0 29 2 *"} {
		f.Add(s, int64(1774742400)) // 2026-03-29T00:00:00Z, a Kyiv DST day
	}
	loc, err := time.LoadLocation("Europe/Kyiv")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string, afterUnix int64) {
		c, err := ParseCron(expr)
		if err != nil {
			if c != nil {
				t.Fatal("expression returned with an error")
			}
			return
		}
		if c.Describe() == "" {
			t.Fatal("empty description")
		}
		// The calendars given to Temporal hold exactly the model's values.
		cals := c.Calendars()
		if len(cals) != len(c.cals) {
			t.Fatalf("%d calendars for %d in the model", len(cals), len(c.cals))
		}
		for i, cal := range cals {
			for idx, rs := range [6][]CronRange{cal.Second, cal.Minute, cal.Hour, cal.DayOfMonth, cal.Month, cal.DayOfWeek} {
				if got, want := rangeBits(rs), c.cals[i].fields[idx].bits; got != want {
					t.Fatalf("calendar %d field %d: ranges %v hold %b, the model %b", i, idx, rs, got, want)
				}
			}
		}
		// Keep "after" within 2000–2090 so that the window stays below 2100.
		after := time.Unix(946684800+((afterUnix%2840000000)+2840000000)%2840000000, 0)
		if c.Descriptor == "@every" {
			got := c.Next(after, loc, 3)
			if len(got) != 3 || !got[0].After(after) || got[0].Sub(after) > c.Every {
				t.Fatalf("@every: %v after %v", got, after)
			}
			return
		}
		window := 36 * time.Hour
		if c.Seconds {
			window = 2 * time.Hour
		}
		checkNextAgainstBruteForce(t, c, after, window, loc)
	})
}

// rangeBits expands ranges the way Temporal reads them.
func rangeBits(rs []CronRange) uint64 {
	var b uint64
	for _, r := range rs {
		for v := r.Start; v <= r.End; v += r.Step {
			b |= 1 << uint(v)
		}
	}
	return b
}

func BenchmarkParseCron(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCron("0 */1 12 * * MON-FRI"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCronNext(b *testing.B) {
	c, _ := ParseCron("0 */1 12 * * *")
	loc := kyiv(b)
	after := time.Date(2026, 6, 10, 13, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if len(c.Next(after, loc, 5)) != 5 {
			b.Fatal("short")
		}
	}
}

// BenchmarkCronNextDSTDay starts on the day before Kyiv's spring change,
// where every wall time is tried under both offsets.
func BenchmarkCronNextDSTDay(b *testing.B) {
	c, _ := ParseCron("0 */1 12 * * *")
	loc := kyiv(b)
	after := time.Date(2026, 3, 28, 13, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if len(c.Next(after, loc, 5)) != 5 {
			b.Fatal("short")
		}
	}
}

func BenchmarkCronDescribe(b *testing.B) {
	c, _ := ParseCron("0 30 9 ? * MON-FRI")
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Describe()
	}
}
