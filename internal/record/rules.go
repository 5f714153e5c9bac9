package record

import (
	"context"
	"time"

	"vigil/internal/access"
)

// Rule bounds a camera's footage. Recordings that ended more than Age ago
// are deleted unless an event touches them: those are kept for EventAge
// (the larger of the two wins for such a segment). The oldest go while the
// camera's footage is over Bytes (plaintext). A zero Age or Bytes bounds
// nothing; a zero EventAge keeps event footage no longer than Age.
type Rule struct {
	Age      time.Duration
	EventAge time.Duration
	Bytes    int64
}

// Looser is the rule that keeps what either a or b keeps: per field the
// larger bound, a zero Age or Bytes (unbounded) above all.
func (a Rule) Looser(b Rule) Rule {
	loose := func(x, y int64) int64 {
		if x == 0 || y == 0 {
			return 0
		}
		return max(x, y)
	}
	return Rule{Age: time.Duration(loose(int64(a.Age), int64(b.Age))),
		EventAge: max(a.EventAge, b.EventAge), Bytes: loose(a.Bytes, b.Bytes)}
}

// keepFor is how long footage an event touches is kept: the larger rule.
func (a Rule) keepFor() time.Duration {
	if a.Age == 0 {
		return 0
	}
	return max(a.Age, a.EventAge)
}

// Retain is a camera's rule as kept: Rule as its owner set it (zero
// fields: the server's default) and, for a grace period after Changed,
// Prior, the rule in force before (defaults resolved). A lowered rule
// takes effect only once the grace period is over, so a mistaken change
// can be undone before anything is deleted.
type Retain struct {
	Rule    Rule
	Prior   Rule
	Changed time.Time
}

// RuleStore keeps each camera's Retain (store/sqlite and store/postgres).
type RuleStore interface {
	SetRetention(ctx context.Context, device access.DeviceID, r Retain) error
	Retention(ctx context.Context, device access.DeviceID) (Retain, error)
}

// Rules is where cameras' retention rules are set and read, with the
// server's defaults and the grace period.
type Rules struct {
	Store RuleStore
	// Default fills a camera rule's zero fields.
	Default Rule
	// Grace is how long a lowered rule waits before it takes effect. Zero
	// means none.
	Grace time.Duration
	// Now defaults to time.Now; tests set a fake clock.
	Now func() time.Time
}

// Resolve is r with the server's defaults in its zero fields.
func (rs *Rules) Resolve(r Rule) Rule {
	if r.Age == 0 {
		r.Age = rs.Default.Age
	}
	if r.EventAge == 0 {
		r.EventAge = rs.Default.EventAge
	}
	if r.Bytes == 0 {
		r.Bytes = rs.Default.Bytes
	}
	return r
}

func (rs *Rules) now() time.Time {
	if rs.Now == nil {
		return time.Now()
	}
	return rs.Now()
}

// Pending reports whether r's grace period is still running at now.
func (rs *Rules) pending(r Retain, now time.Time) bool {
	return !r.Changed.IsZero() && now.Before(r.Changed.Add(rs.Grace))
}

// Effective is r in force at now: while the grace period runs, what
// either the prior or the new rule keeps.
func (rs *Rules) Effective(r Retain, now time.Time) Rule {
	rule := rs.Resolve(r.Rule)
	if rs.pending(r, now) {
		return rule.Looser(r.Prior)
	}
	return rule
}

// Get returns the device's Retain.
func (rs *Rules) Get(ctx context.Context, device access.DeviceID) (Retain, error) {
	return rs.Store.Retention(ctx, device)
}

// Rule is the device's rule in force now (Retention.Rule).
func (rs *Rules) Rule(ctx context.Context, device access.DeviceID) (Rule, error) {
	r, err := rs.Store.Retention(ctx, device)
	if err != nil {
		return Rule{}, err
	}
	return rs.Effective(r, rs.now()), nil
}

// Set sets the device's rule. What it no longer keeps is deleted once the
// grace period is over; until then the rule in force before keeps it (a
// change made while another's grace runs keeps both earlier rules').
func (rs *Rules) Set(ctx context.Context, device access.DeviceID, rule Rule) (Retain, error) {
	old, err := rs.Store.Retention(ctx, device)
	if err != nil {
		return Retain{}, err
	}
	now := rs.now()
	next := Retain{Rule: rule, Prior: rs.Effective(old, now), Changed: now}
	return next, rs.Store.SetRetention(ctx, device, next)
}

// Until is when r's grace period ends; zero when none is running at now
// or the rule before keeps nothing more (a raised rule).
func (rs *Rules) Until(r Retain, now time.Time) time.Time {
	if !rs.pending(r, now) || rs.Effective(r, now) == rs.Resolve(r.Rule) {
		return time.Time{}
	}
	return r.Changed.Add(rs.Grace)
}
