package domain

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxCronLength bounds a cron expression's source.
const MaxCronLength = 256

// cronMaxYear mirrors Temporal's scheduler, which computes no fire times after
// 2100; Next stops there too rather than scanning forever for an expression
// that cannot fire.
const cronMaxYear = 2100

// CronExpression is a validated At Time schedule, in Webitel's dialect:
//
//   - 5 fields: minute hour day-of-month month day-of-week;
//   - 6 fields: a leading seconds field, then the same five
//     ("0 */1 12 * * *" = every minute from 12:00 to 12:59);
//   - a descriptor: @yearly, @annually, @monthly, @weekly, @daily, @midnight,
//     @hourly, or "@every <duration>" (whole seconds, at least 1s).
//
// Fields take *, ? (day fields only), numbers, ranges (1-5), lists (1,15),
// steps (*/5, 1-10/2, 5/15), month names JAN-DEC and day names SUN-SAT
// (0 and 7 are both Sunday).
//
// Days follow standard (Vixie) cron, crontab(5): when both day-of-month and
// day-of-week are restricted — neither starts with * or ? — a day matches
// when EITHER matches ("0 0 1 * 1" is the 1st of every month and every
// Monday); otherwise both must match ("0 0 */2 * 1" is every Monday on an
// odd day). Temporal ANDs the two in a calendar, so the expression is kept
// as the calendars whose union it is (Calendars): one, or two when the days
// are ORed. Next, Describe and the schedule given to Temporal all come from
// those calendars.
type CronExpression struct {
	// Source is the expression as given, trimmed.
	Source string
	// Seconds is true for the 6-field form with a leading seconds field.
	Seconds bool
	// Descriptor is the @-form ("@daily", "@every"), lowercased; "" for fields.
	Descriptor string
	// Every is the interval of "@every"; zero otherwise.
	Every time.Duration
	// EitherDay is true when both day fields are restricted, so that a day
	// matches when either does (two calendars).
	EitherDay bool

	fields [6]cronField
	cals   []cronCalendar
}

// cronCalendar is one ANDed set of fields: a time matches when every field
// does. An expression is the union of its calendars.
type cronCalendar struct {
	fields  [6]cronField
	comment string
}

// CronCalendar is one calendar of a schedule in the shape of Temporal's
// ScheduleCalendarSpec: a time matches when each field has a range holding
// it. Day of week runs 0-6 (Sunday is 0).
type CronCalendar struct {
	Second, Minute, Hour, DayOfMonth, Month, DayOfWeek []CronRange
	// Comment says which part of the expression the calendar is.
	Comment string
}

// CronRange is Start through End inclusive, every Step.
type CronRange struct {
	Start, End, Step int
}

// Field positions in CronExpression.fields.
const (
	cronSec = iota
	cronMin
	cronHour
	cronDom
	cronMonth
	cronDow
)

type cronFieldSpec struct {
	name     string
	min, max int
	names    []string
}

var cronSpecs = [6]cronFieldSpec{
	{name: "seconds", min: 0, max: 59},
	{name: "minutes", min: 0, max: 59},
	{name: "hours", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}},
}

type cronField struct {
	bits  uint64
	all   bool // every value allowed (*, ?, */1, or a list covering the range)
	items []cronItem
}

// cronItem is one comma-separated part of a field, kept for Describe.
type cronItem struct {
	start, end, step int
	star             bool // written as * or ?
}

func (f *cronField) has(v int) bool { return f.bits&(1<<uint(v)) != 0 }

var cronDescriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// ParseCron validates expr and reports the first problem with its field
// ("field 2 (minutes): 61 is out of range 0-59").
func ParseCron(expr string) (*CronExpression, error) {
	src := strings.TrimSpace(expr)
	switch {
	case src == "":
		return nil, errors.New("cron expression is empty")
	case len(src) > MaxCronLength:
		return nil, fmt.Errorf("cron expression is %d characters long; at most %d are allowed", len(src), MaxCronLength)
	}
	c := &CronExpression{Source: src}
	if strings.HasPrefix(src, "@") {
		if err := c.parseDescriptor(src); err != nil {
			return nil, err
		}
		return c, nil
	}
	parts := strings.Fields(src)
	var specIdx []int
	switch len(parts) {
	case 5:
		specIdx = []int{cronMin, cronHour, cronDom, cronMonth, cronDow}
		c.fields[cronSec] = cronField{bits: 1, items: []cronItem{{start: 0, end: 0, step: 1}}}
	case 6:
		c.Seconds = true
		specIdx = []int{cronSec, cronMin, cronHour, cronDom, cronMonth, cronDow}
	default:
		if strings.HasPrefix(strings.ToUpper(src), "CRON_TZ=") || strings.HasPrefix(strings.ToUpper(src), "TZ=") {
			return nil, errors.New("a time zone prefix is not part of the expression; give the zone in the trigger's timezone field")
		}
		return nil, fmt.Errorf("cron expression has %d fields; use 5 (minute hour day-of-month month day-of-week) or 6 with a leading seconds field", len(parts))
	}
	var starts [6]byte
	for i, part := range parts {
		idx := specIdx[i]
		f, err := parseCronField(part, idx)
		if err != nil {
			return nil, fmt.Errorf("field %d (%s): %s", i+1, cronSpecs[idx].name, err)
		}
		c.fields[idx] = f
		starts[idx] = part[0]
	}
	// crontab(5): "If both fields are restricted (i.e., don't start with
	// *), the command will be run when either field matches."
	restricted := func(b byte) bool { return b != '*' && b != '?' }
	c.EitherDay = restricted(starts[cronDom]) && restricted(starts[cronDow])
	c.buildCalendars()
	if err := c.checkReachable(); err != nil {
		return nil, err
	}
	return c, nil
}

// buildCalendars splits the expression into the calendars whose union it
// is: itself, or, when the days are ORed, one calendar with the day of month
// (any weekday) and one with the day of week (any day of month).
func (c *CronExpression) buildCalendars() {
	if !c.EitherDay {
		c.cals = []cronCalendar{{fields: c.fields, comment: c.Source}}
		return
	}
	byDom, byDow := c.fields, c.fields
	byDow[cronDom] = fullCronField(cronDom)
	byDom[cronDow] = fullCronField(cronDow)
	c.cals = []cronCalendar{
		{fields: byDom, comment: c.Source + " (day of month)"},
		{fields: byDow, comment: c.Source + " (day of week)"},
	}
}

// fullCronField is a field written "*".
func fullCronField(idx int) cronField {
	f, _ := parseCronField("*", idx)
	return f
}

func (c *CronExpression) parseDescriptor(src string) error {
	word, rest, _ := strings.Cut(src, " ")
	word = strings.ToLower(word)
	rest = strings.TrimSpace(rest)
	if word == "@every" {
		if rest == "" {
			return errors.New(`"@every" needs a duration, e.g. "@every 30m"`)
		}
		d, err := time.ParseDuration(rest)
		if err != nil {
			return fmt.Errorf("@every: %q is not a duration such as 30s, 15m or 2h", truncateForMessage(rest))
		}
		if d < time.Second {
			return fmt.Errorf("@every: %s is shorter than the minimum of 1s", d)
		}
		if d%time.Second != 0 {
			return fmt.Errorf("@every: %s is not a whole number of seconds", d)
		}
		c.Descriptor, c.Every = "@every", d
		return nil
	}
	fields, ok := cronDescriptors[word]
	if !ok || rest != "" {
		return fmt.Errorf("%q is not a cron descriptor; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>", truncateForMessage(src))
	}
	parsed, err := ParseCron(fields)
	if err != nil {
		return err
	}
	c.fields, c.EitherDay, c.Descriptor = parsed.fields, parsed.EitherDay, word
	c.buildCalendars()
	return nil
}

func parseCronField(s string, idx int) (cronField, error) {
	spec := cronSpecs[idx]
	var f cronField
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			return f, fmt.Errorf("%q has an empty list item", s)
		}
		it, err := parseCronItem(part, idx)
		if err != nil {
			return f, err
		}
		for v := it.start; v <= it.end; v += it.step {
			if idx == cronDow && v == 7 {
				f.bits |= 1 // 7 is Sunday too
				continue
			}
			f.bits |= 1 << uint(v)
		}
		f.items = append(f.items, it)
	}
	full := uint64(0)
	for v := spec.min; v <= spec.max; v++ {
		if idx == cronDow && v == 7 {
			continue
		}
		full |= 1 << uint(v)
	}
	f.all = f.bits == full
	return f, nil
}

func parseCronItem(part string, idx int) (cronItem, error) {
	spec := cronSpecs[idx]
	base, stepText, hasStep := strings.Cut(part, "/")
	it := cronItem{step: 1}
	switch {
	case base == "*" || base == "?":
		if base == "?" && idx != cronDom && idx != cronDow {
			return it, errors.New(`"?" is allowed only in the day-of-month and day-of-week fields`)
		}
		it.start, it.end, it.star = spec.min, spec.max, true
		if idx == cronDow {
			it.end = 6
		}
	case strings.Contains(base, "-"):
		lo, hi, _ := strings.Cut(base, "-")
		a, err := parseCronValue(lo, idx)
		if err != nil {
			return it, err
		}
		b, err := parseCronValue(hi, idx)
		if err != nil {
			return it, err
		}
		if a > b {
			return it, fmt.Errorf("range %s is backwards; cron ranges do not wrap around (write %s-%d,%d-%s)", base, lo, spec.max, spec.min, hi)
		}
		it.start, it.end = a, b
	default:
		v, err := parseCronValue(base, idx)
		if err != nil {
			return it, err
		}
		it.start, it.end = v, v
		if hasStep { // "5/15" means from 5 to the end, every 15
			it.end = spec.max
			if idx == cronDow {
				it.end = 6
			}
		}
	}
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || stepText == "" || stepText[0] == '+' || stepText[0] == '-' {
			return it, fmt.Errorf("step %q is not a positive whole number", stepText)
		}
		span := spec.max - spec.min
		if idx == cronDow {
			span = 6
		}
		if n < 1 || n > span {
			return it, fmt.Errorf("step %d is out of range 1-%d", n, span)
		}
		it.step = n
	}
	return it, nil
}

func parseCronValue(s string, idx int) (int, error) {
	spec := cronSpecs[idx]
	if s == "" {
		return 0, errors.New("a range is missing a value")
	}
	if spec.names != nil && len(s) == 3 && !(s[0] >= '0' && s[0] <= '9') {
		up := strings.ToUpper(s)
		for v, n := range spec.names {
			if n != "" && n == up {
				return v, nil
			}
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			switch idx {
			case cronMonth:
				return 0, fmt.Errorf("%q is not a number or a month name (JAN-DEC)", truncateForMessage(s))
			case cronDow:
				return 0, fmt.Errorf("%q is not a number or a day name (SUN-SAT)", truncateForMessage(s))
			}
			return 0, fmt.Errorf("%q is not a number", truncateForMessage(s))
		}
	}
	if len(s) > 4 {
		return 0, fmt.Errorf("%s is out of range %d-%d", truncateForMessage(s), spec.min, spec.max)
	}
	v, _ := strconv.Atoi(s)
	if v < spec.min || v > spec.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, spec.min, spec.max)
	}
	return v, nil
}

var monthNames = [13]string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

// maxDays is the longest each month gets (February in leap years).
var maxDays = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// checkReachable refuses day-of-month/month combinations that never occur
// ("0 0 31 2 *"): Temporal would accept them and never fire. With the days
// ORed the weekday calendar fires in every month, so the expression does.
func (c *CronExpression) checkReachable() error {
	if c.EitherDay {
		return nil
	}
	dom, month := &c.fields[cronDom], &c.fields[cronMonth]
	for m := 1; m <= 12; m++ {
		if !month.has(m) {
			continue
		}
		for d := 1; d <= maxDays[m]; d++ {
			if dom.has(d) {
				return nil
			}
		}
	}
	return fmt.Errorf("the expression never fires: no selected day of month occurs in the selected months")
}

// Calendars returns the calendars whose union is the expression, for
// Temporal's ScheduleSpec.Calendars (which fires on the union of its
// calendars): one, or two when day of month and day of week are ORed. "@every"
// is an interval, not a calendar: nil.
func (c *CronExpression) Calendars() []CronCalendar {
	if c.Descriptor == "@every" {
		return nil
	}
	out := make([]CronCalendar, len(c.cals))
	for i, cal := range c.cals {
		out[i] = CronCalendar{
			Second:     cal.fields[cronSec].ranges(),
			Minute:     cal.fields[cronMin].ranges(),
			Hour:       cal.fields[cronHour].ranges(),
			DayOfMonth: cal.fields[cronDom].ranges(),
			Month:      cal.fields[cronMonth].ranges(),
			DayOfWeek:  cal.fields[cronDow].ranges(),
			Comment:    cal.comment,
		}
	}
	return out
}

// ranges writes the field's values as few ranges as it can: one stepped
// range when they are evenly spaced ("*/15", "8-18/2"), else one range per
// run of consecutive values. Sunday is 0 only (bit 7 is never set).
func (f *cronField) ranges() []CronRange {
	vs := f.values()
	if len(vs) == 0 {
		return nil
	}
	if len(vs) > 2 {
		step := vs[1] - vs[0]
		even := true
		for i := 2; i < len(vs); i++ {
			if vs[i]-vs[i-1] != step {
				even = false
				break
			}
		}
		if even {
			return []CronRange{{Start: vs[0], End: vs[len(vs)-1], Step: step}}
		}
	}
	var out []CronRange
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		out = append(out, CronRange{Start: vs[i], End: vs[j], Step: 1})
		i = j + 1
	}
	return out
}

// dayMatches reports whether any calendar fires on the civil day.
func (c *CronExpression) dayMatches(day time.Time) bool {
	m, d, wd := int(day.Month()), day.Day(), int(day.Weekday())
	for i := range c.cals {
		f := &c.cals[i].fields
		if f[cronMonth].has(m) && f[cronDom].has(d) && f[cronDow].has(wd) {
			return true
		}
	}
	return false
}

// Next returns the next n fire times strictly after after, in loc (UTC when
// nil), computed the way Temporal's scheduler does with the expression's
// calendars (a day fires when any calendar holds it); a local time skipped by a DST change does not fire and a
// repeated one fires twice; "@every d" fires at multiples of d since the Unix
// epoch. It returns fewer than n times when the schedule ends before 2100,
// and at most 10,000.
func (c *CronExpression) Next(after time.Time, loc *time.Location, n int) []time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if n <= 0 {
		return nil
	}
	n = min(n, 10_000)
	if c.Descriptor == "@every" {
		return c.nextEvery(after, loc, n)
	}
	out := make([]time.Time, 0, n)
	y, m, d := after.In(loc).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for len(out) < n && day.Year() <= cronMaxYear {
		if !c.fields[cronMonth].has(int(day.Month())) {
			day = time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if c.dayMatches(day) {
			out = c.appendDay(out, day, after, loc, n)
		}
		day = day.AddDate(0, 0, 1)
	}
	return out
}

func (c *CronExpression) nextEvery(after time.Time, loc *time.Location, n int) []time.Time {
	// Whole seconds (ParseCron insists) keep the arithmetic exact for any year.
	ds := int64(c.Every / time.Second)
	sec := after.Unix()
	k := sec / ds
	if sec%ds != 0 && sec < 0 {
		k-- // floor, not truncation
	}
	k++ // the first multiple strictly after: after's fraction of a second is below it
	out := make([]time.Time, 0, n)
	for ; len(out) < n; k++ {
		if k > math.MaxInt64/ds {
			break
		}
		t := time.Unix(k*ds, 0)
		if t.Year() > cronMaxYear {
			break
		}
		out = append(out, t.In(loc))
	}
	return out
}

// appendDay appends the fire times of one civil day. On an ordinary day wall
// times map to instants in order; on a day around an offset change each wall
// time is tried under both offsets, which yields zero instants for skipped
// times and two for repeated ones.
func (c *CronExpression) appendDay(out []time.Time, day, after time.Time, loc *time.Location, n int) []time.Time {
	next := day.AddDate(0, 0, 1)
	_, offBefore := day.Add(-14 * time.Hour).In(loc).Zone()
	_, offAfter := next.Add(12 * time.Hour).In(loc).Zone()
	regular := offBefore == offAfter
	var pending []time.Time
	c.eachTime(func(h, mi, s int) bool {
		wall := day.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second)
		for i, off := range [2]int{offBefore, offAfter} {
			if i == 1 && off == offBefore {
				break
			}
			u := wall.Add(-time.Duration(off) * time.Second)
			if !u.After(after) {
				continue
			}
			t := u.In(loc)
			if th, tm, ts := t.Clock(); th != h || tm != mi || ts != s || t.Day() != day.Day() {
				continue // this offset does not produce that wall time
			}
			if regular {
				out = append(out, t)
				return len(out) < n
			}
			pending = append(pending, t)
		}
		return true
	})
	if !regular {
		sort.Slice(pending, func(i, j int) bool { return pending[i].Before(pending[j]) })
		for _, t := range pending {
			if len(out) >= n {
				break
			}
			out = append(out, t)
		}
	}
	return out
}

// eachTime calls f for each matching time of day in order until f returns false.
func (c *CronExpression) eachTime(f func(h, m, s int) bool) {
	for hs := c.fields[cronHour].bits; hs != 0; hs &= hs - 1 {
		h := bits.TrailingZeros64(hs)
		for ms := c.fields[cronMin].bits; ms != 0; ms &= ms - 1 {
			mi := bits.TrailingZeros64(ms)
			for ss := c.fields[cronSec].bits; ss != 0; ss &= ss - 1 {
				if !f(h, mi, bits.TrailingZeros64(ss)) {
					return
				}
			}
		}
	}
}

// Describe renders the expression in English for the trigger's
// expression_text: "Every minute between 12:00 and 12:59", "At 09:00, Monday
// through Friday". Unusual combinations are described field by field rather
// than guessed at.
func (c *CronExpression) Describe() string {
	if c.Descriptor == "@every" {
		return "Every " + durationWords(c.Every)
	}
	timeText, fixed := c.describeTime()
	dayParts := c.describeDays()
	if fixed && len(dayParts) == 0 {
		return "Every day " + timeText
	}
	return capitalize(strings.Join(append([]string{timeText}, dayParts...), ", "))
}

func durationWords(d time.Duration) string {
	unit := func(n int64, word string) string {
		if n == 1 {
			return word
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	switch {
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// single returns the field's value when exactly one is allowed.
func (f *cronField) single() (int, bool) {
	if bits.OnesCount64(f.bits) != 1 {
		return 0, false
	}
	return bits.TrailingZeros64(f.bits), true
}

// everyN returns n for a field written "*/n" (n > 1).
func (f *cronField) everyN() (int, bool) {
	if len(f.items) == 1 && f.items[0].star && f.items[0].step > 1 {
		return f.items[0].step, true
	}
	return 0, false
}

// span returns a-b for a field written as one plain range "a-b".
func (f *cronField) span() (int, int, bool) {
	if len(f.items) == 1 && !f.items[0].star && f.items[0].step == 1 && f.items[0].start < f.items[0].end {
		return f.items[0].start, f.items[0].end, true
	}
	return 0, 0, false
}

// values returns the allowed values in order (Sunday as 0).
func (f *cronField) values() []int {
	var vs []int
	for v := 0; v < 64; v++ {
		if f.has(v) {
			vs = append(vs, v)
		}
	}
	return vs
}

func (f *cronField) count() int { return bits.OnesCount64(f.bits) }

// listLimit is how many values Describe spells out before it falls back to
// describing how the field was written.
const listLimit = 12

// describeTime describes the seconds, minutes and hours; fixed is true when
// they name a short list of clock times ("at 09:00 and 17:30").
func (c *CronExpression) describeTime() (string, bool) {
	sec, mins, hrs := &c.fields[cronSec], &c.fields[cronMin], &c.fields[cronHour]
	secZero := false
	if s, ok := sec.single(); ok && s == 0 {
		secZero = true
	}
	// A short list of clock times.
	if sec.count()*mins.count()*hrs.count() <= 6 {
		var times []string
		for _, h := range hrs.values() {
			for _, m := range mins.values() {
				for _, s := range sec.values() {
					if secZero {
						times = append(times, fmt.Sprintf("%02d:%02d", h, m))
					} else {
						times = append(times, fmt.Sprintf("%02d:%02d:%02d", h, m, s))
					}
				}
			}
		}
		return "at " + joinAnd(times, "and"), true
	}
	var parts []string
	switch {
	case secZero:
	case sec.all:
		parts = append(parts, "every second")
	default:
		if n, ok := sec.everyN(); ok {
			parts = append(parts, fmt.Sprintf("every %d seconds", n))
		} else {
			parts = append(parts, "at "+describeNumbers(sec, "second", "seconds"))
		}
	}
	hourPhrase := describeHours(hrs)
	switch m, single := mins.single(); {
	case mins.all && secZero:
		parts = append(parts, "every minute")
	case mins.all:
		// "every 10 seconds" already covers every minute
	case single && m == 0 && secZero:
		if hrs.all {
			return "every hour", false
		}
		if n, ok := hrs.everyN(); ok {
			return fmt.Sprintf("every %d hours", n), false
		}
		if a, b, ok := hrs.span(); ok {
			return fmt.Sprintf("every hour from %02d:00 through %02d:00", a, b), false
		}
		parts = append(parts, "at minute 0")
	case single && secZero:
		if hrs.all {
			return fmt.Sprintf("at %d minutes past every hour", m), false
		}
		if a, b, ok := hrs.span(); ok {
			return fmt.Sprintf("every hour from %02d:%02d through %02d:%02d", a, m, b, m), false
		}
		parts = append(parts, fmt.Sprintf("at %d minutes past the hour", m))
	default:
		if n, ok := mins.everyN(); ok {
			parts = append(parts, fmt.Sprintf("every %d minutes", n))
		} else {
			parts = append(parts, "at "+describeNumbers(mins, "minute", "minutes")+" past the hour")
		}
	}
	if hourPhrase != "" {
		parts = append(parts, hourPhrase)
	}
	if !secZero && mins.all && hrs.all && !sec.all {
		if _, ok := sec.everyN(); !ok {
			parts[0] += " of every minute"
		}
	}
	text := strings.Join(parts, ", ")
	// "every minute, between 12:00 and 12:59" reads better without the comma.
	text = strings.Replace(text, ", between", " between", 1)
	return text, false
}

// describeHours restricts a time phrase to hours; "" means every hour.
func describeHours(f *cronField) string {
	if f.all {
		return ""
	}
	if h, ok := f.single(); ok {
		return fmt.Sprintf("between %02d:00 and %02d:59", h, h)
	}
	if a, b, ok := f.span(); ok {
		return fmt.Sprintf("between %02d:00 and %02d:59", a, b)
	}
	if n, ok := f.everyN(); ok {
		return fmt.Sprintf("every %d hours", n)
	}
	return "during " + describeNumbers(f, "hour", "hours")
}

// describeNumbers lists a numeric field's values ("minute 5", "minutes 0
// and 30"), or, when there are many, how it was written ("minutes 10 through
// 40", "every 3rd minute from 0 through 59").
func describeNumbers(f *cronField, one, many string) string {
	if f.count() <= listLimit {
		vs := f.values()
		texts := make([]string, len(vs))
		for i, v := range vs {
			texts[i] = strconv.Itoa(v)
		}
		if len(vs) == 1 {
			return one + " " + texts[0]
		}
		return many + " " + joinAnd(texts, "and")
	}
	var texts []string
	for _, it := range f.items {
		texts = append(texts, describeItem(it, one, many, strconv.Itoa))
	}
	return joinAnd(texts, "and")
}

func describeItem(it cronItem, one, many string, name func(int) string) string {
	switch {
	case it.start == it.end:
		return one + " " + name(it.start)
	case it.step == 1:
		return many + " " + name(it.start) + " through " + name(it.end)
	default:
		last := it.start + (it.end-it.start)/it.step*it.step
		return fmt.Sprintf("every %s %s from %s through %s", ordinal(it.step), one, name(it.start), name(last))
	}
}

func dayName(v int) string {
	return [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}[v]
}

func monthName(v int) string { return monthNames[v] }

// describeDays describes the day-of-month, day-of-week and month fields:
// "or" between the day fields when the expression's two calendars are
// ORed, "only if it falls on" when one calendar ANDs them.
func (c *CronExpression) describeDays() []string {
	dom, dow, month := &c.fields[cronDom], &c.fields[cronDow], &c.fields[cronMonth]
	var parts []string
	switch {
	case c.EitherDay && (dom.all || dow.all):
		// One of the two calendars holds every day.
	case c.EitherDay:
		parts = append(parts, describeDom(dom)+" or on "+describeDow(dow, true))
	}
	if c.EitherDay {
		if !month.all {
			parts = append(parts, describeMonth(month))
		}
		return parts
	}
	if !dom.all {
		parts = append(parts, describeDom(dom))
	}
	if !dow.all {
		if dom.all {
			parts = append(parts, describeDow(dow, false))
		} else {
			parts = append(parts, "only if it falls on "+describeDow(dow, true))
		}
	}
	if !month.all {
		parts = append(parts, describeMonth(month))
	}
	return parts
}

func describeDom(f *cronField) string {
	if a, b, ok := f.span(); ok {
		return fmt.Sprintf("on days %d through %d of the month", a, b)
	}
	if f.count() > listLimit {
		if n, ok := f.everyN(); ok {
			return fmt.Sprintf("on every %s day of the month from day 1", ordinal(n))
		}
		var texts []string
		for _, it := range f.items {
			texts = append(texts, describeItem(it, "day", "days", strconv.Itoa))
		}
		return "on " + joinAnd(texts, "and") + " of the month"
	}
	vs := f.values()
	texts := make([]string, len(vs))
	for i, v := range vs {
		texts[i] = strconv.Itoa(v)
	}
	if len(vs) == 1 {
		return "on day " + texts[0] + " of the month"
	}
	return "on days " + joinAnd(texts, "and") + " of the month"
}

// describeDow names weekdays; bare drops the "only on" used when the weekday
// is the only day restriction.
func describeDow(f *cronField, bare bool) string {
	if a, b, ok := f.span(); ok {
		return dayName(a) + " through " + dayName(b)
	}
	vs := f.values()
	texts := make([]string, len(vs))
	for i, v := range vs {
		texts[i] = dayName(v)
	}
	if bare {
		return joinAnd(texts, "or")
	}
	return "only on " + joinAnd(texts, "and")
}

func describeMonth(f *cronField) string {
	if a, b, ok := f.span(); ok {
		return monthName(a) + " through " + monthName(b)
	}
	vs := f.values()
	texts := make([]string, len(vs))
	for i, v := range vs {
		texts[i] = monthName(v)
	}
	return "only in " + joinAnd(texts, "and")
}

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// joinAnd joins "a", "b", "c" as "a, b and c".
func joinAnd(items []string, conj string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

// ValidateTimeZone loads an IANA time zone ("Europe/Kyiv", "UTC"). It refuses
// "" (the caller decides the default, normally UTC) and "Local", which would
// mean whatever zone the server happens to run in.
func ValidateTimeZone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, errors.New("time zone is empty; use an IANA name such as Europe/Kyiv or UTC")
	case name == "Local":
		return nil, errors.New(`"Local" is not allowed; use an IANA name such as Europe/Kyiv or UTC`)
	case len(name) > 64:
		return nil, fmt.Errorf("%q is not an IANA time zone name", truncateForMessage(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-' || c == '+') {
			return nil, fmt.Errorf("%q is not an IANA time zone name", truncateForMessage(name))
		}
	}
	if v, ok := zoneCache.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name such as Europe/Kyiv or UTC", name)
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

// zoneCache saves re-reading zone files: time.LoadLocation does not cache.
var zoneCache sync.Map

//go:generate go run timezones_gen.go

// TimeZones lists the IANA zone names offered in GET /v1/catalog: UTC plus
// every zone of zone.tab, sorted. The result is a copy the caller may change.
func TimeZones() []string {
	return append([]string(nil), timeZoneNames...)
}
