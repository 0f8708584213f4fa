package domain

import (
	"strconv"
	"strings"
	"time"
)

// Window is a weekly time window such as "Sat 02:00-04:00 UTC": the days
// it opens on, its start and end as minutes into the day, and its zone. An
// end before the start runs past midnight into the next day.
type Window struct {
	Days       [7]bool // by time.Weekday
	Start, End int     // seconds since midnight
	Zone       *time.Location
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseWindow reads "DAYS HH:MM-HH:MM [ZONE]" (times may name seconds,
// HH:MM:SS): DAYS is a day ("Sat"), a
// range ("Mon-Fri"), a list ("Sat,Sun") or "*", and may be left out (every
// day); ZONE is an IANA zone, UTC by default.
//
// Errors: EINVALID saying what to fix.
func ParseWindow(s string) (Window, error) {
	var w Window
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 3 {
		return w, Errorf(EINVALID, "window %q is not like \"Sat 02:00-04:00 UTC\"", Clip(s))
	}
	i := 0
	if !strings.Contains(fields[0], ":") {
		if err := parseDays(fields[0], &w.Days); err != nil {
			return w, Errorf(EINVALID, "window %q: %s", Clip(s), ErrorMessage(err))
		}
		i = 1
	} else {
		w.Days = [7]bool{true, true, true, true, true, true, true}
	}
	if i >= len(fields) {
		return w, Errorf(EINVALID, "window %q has no times such as 02:00-04:00", Clip(s))
	}
	from, to, ok := strings.Cut(fields[i], "-")
	var okA, okB bool
	w.Start, okA = clock(from)
	w.End, okB = clock(to)
	if !ok || !okA || !okB {
		return w, Errorf(EINVALID, "window %q: %q is not a time range such as 02:00-04:00", Clip(s), Clip(fields[i]))
	}
	if w.Start == w.End {
		return w, Errorf(EINVALID, "window %q starts where it ends", Clip(s))
	}
	w.Zone = time.UTC
	if i+1 < len(fields) {
		if i+2 < len(fields) {
			return w, Errorf(EINVALID, "window %q has more than days, times and a zone", Clip(s))
		}
		z := fields[i+1]
		if z != "UTC" {
			loc, err := time.LoadLocation(z)
			if err != nil || z == "Local" || z == "" {
				return w, Errorf(EINVALID, "window %q: %q is not a time zone such as UTC or Europe/Berlin", Clip(s), Clip(z))
			}
			w.Zone = loc
		}
	}
	return w, nil
}

func parseDays(s string, days *[7]bool) error {
	if s == "*" {
		*days = [7]bool{true, true, true, true, true, true, true}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		da, ok := weekdays[strings.ToLower(a)]
		if !ok {
			return Errorf(EINVALID, "%q is not a day such as Sat, Mon-Fri or Sat,Sun", Clip(part))
		}
		db := da
		if isRange {
			if db, ok = weekdays[strings.ToLower(b)]; !ok {
				return Errorf(EINVALID, "%q is not a day range such as Mon-Fri", Clip(part))
			}
		}
		for d := da; ; d = (d + 1) % 7 {
			days[d] = true
			if d == db {
				break
			}
		}
	}
	return nil
}

// clock reads "HH:MM" or "HH:MM:SS" (00:00 to 24:00) as seconds since
// midnight.
func clock(s string) (int, bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) != 2 || n < 0 || i > 0 && n > 59 {
			return 0, false
		}
		v[i] = n
	}
	secs := v[0]*3600 + v[1]*60 + v[2]
	if secs > 24*3600 {
		return 0, false
	}
	return secs, true
}

// Contains reports whether t is inside the window. A window running past
// midnight belongs to the day it opens on.
func (w Window) Contains(t time.Time) bool {
	t = t.In(w.Zone)
	mins := t.Hour()*3600 + t.Minute()*60 + t.Second()
	if w.Start < w.End {
		return w.Days[t.Weekday()] && mins >= w.Start && mins < w.End
	}
	// Past midnight: the evening part today, or the morning part of a
	// window that opened yesterday.
	if w.Days[t.Weekday()] && mins >= w.Start {
		return true
	}
	return w.Days[(t.Weekday()+6)%7] && mins < w.End
}
