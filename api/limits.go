package api

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"
)

// AuthLimit limits failed authentications per client address and per presented secret, and
// how often they reach the audit log. Zero fields mean the defaults.
type AuthLimit struct {
	// Burst is how many failures in a row an address (or a secret) may have before its
	// requests are refused with 429 (default 10).
	Burst int
	// Every is how often one failure is forgiven (default 6s: 10 a minute once the burst is
	// spent).
	Every time.Duration
	// MaxKeys bounds the addresses and secrets tracked at once (default 10,000); past it the
	// most forgiven entries are forgotten first.
	MaxKeys int
	// AuditEvery is how often one address's failures are audited at most: the first failure
	// is, the others of the window are counted into the next entry (default 1 minute).
	AuditEvery time.Duration
	// AuditBurst caps the failure entries of all addresses together: at most this many per
	// AuditEvery (default 60), so that no number of unauthenticated clients can bloat the
	// append-only log; failures past it are only logged.
	AuditBurst int
}

func (l *AuthLimit) setDefaults() {
	if l.Burst <= 0 {
		l.Burst = 10
	}
	if l.Every <= 0 {
		l.Every = 6 * time.Second
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = 10_000
	}
	if l.AuditEvery <= 0 {
		l.AuditEvery = time.Minute
	}
	if l.AuditBurst <= 0 {
		l.AuditBurst = 60
	}
}

// failureLimiter is a token bucket per key (an address or a secret's hash) that failures
// drain; an empty bucket refuses the key's requests until a token comes back. It is owned by
// the Server, lives in memory (a restart forgives everyone) and is safe for concurrent use.
type failureLimiter struct {
	cfg AuthLimit
	mu  sync.Mutex // guards buckets and audits
	// buckets by key; bounded by cfg.MaxKeys.
	buckets map[string]*bucket
	// audits is the bucket of failure entries of every address together.
	audits bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
	// audited is when this address's failures were last audited, and unaudited how many
	// failures have happened since.
	audited   time.Time
	unaudited int
}

func newFailureLimiter(cfg AuthLimit) *failureLimiter {
	cfg.setDefaults()
	return &failureLimiter{cfg: cfg, buckets: map[string]*bucket{}, audits: bucket{tokens: float64(cfg.AuditBurst)}}
}

// refill brings b up to now at rate one token per every, up to burst.
func refill(b *bucket, now time.Time, burst int, every time.Duration) {
	if !b.at.IsZero() {
		b.tokens = math.Min(float64(burst), b.tokens+float64(now.Sub(b.at))/float64(every))
	}
	b.at = now
}

// wait is how long key must wait before its next try (0: it may try now).
func (l *failureLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	refill(b, now, l.cfg.Burst, l.cfg.Every)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.cfg.Every))
}

// fail counts a failure of key. audit reports whether to write an audit entry now, and
// failures how many failures it stands for (this one and those counted since the last).
func (l *failureLimiter) fail(key string, now time.Time) (audit bool, failures int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.cfg.MaxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.cfg.Burst), at: now}
		l.buckets[key] = b
	}
	refill(b, now, l.cfg.Burst, l.cfg.Every)
	b.tokens = math.Max(0, b.tokens-1)
	b.unaudited++
	if !b.audited.IsZero() && now.Sub(b.audited) < l.cfg.AuditEvery {
		return false, 0
	}
	refill(&l.audits, now, l.cfg.AuditBurst, l.cfg.AuditEvery/time.Duration(l.cfg.AuditBurst))
	if l.audits.tokens < 1 {
		return false, 0
	}
	l.audits.tokens--
	failures, b.audited, b.unaudited = b.unaudited, now, 0
	return true, failures
}

// evict forgets every key whose bucket has refilled (it owes nothing) and whose last audit
// is a window old; if none has, the one with the most tokens.
func (l *failureLimiter) evict(now time.Time) {
	var most string
	mostTokens := -1.0
	for k, b := range l.buckets {
		refill(b, now, l.cfg.Burst, l.cfg.Every)
		if b.tokens >= float64(l.cfg.Burst) && now.Sub(b.audited) >= l.cfg.AuditEvery {
			delete(l.buckets, k)
			continue
		}
		if b.tokens > mostTokens {
			most, mostTokens = k, b.tokens
		}
	}
	if len(l.buckets) >= l.cfg.MaxKeys {
		delete(l.buckets, most)
	}
}

// addressKey is the limiter's key of a client address: an IPv6 address counts by its /64,
// which one client usually has whole.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "addr:" + addr
	}
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + ip.Unmap().String()
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return fmt.Sprint(max(1, int(math.Ceil(d.Seconds()))))
}
