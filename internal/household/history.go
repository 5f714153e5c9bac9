package household

import (
	"net"
	"time"
)

// HistoryGap is how far apart two sessions of the same viewer, output and
// address may be and still read as one line: the page's thumbnail refresh
// every 10 seconds is one line per viewer, not six a minute.
const HistoryGap = 5 * time.Minute

// Grouped merges rows (newest first, as History returns them) of the same
// viewer, output, audience and address that follow each other within gap
// into one line: Count sessions from the first start to the last end (zero
// while any is ongoing), their bytes summed. Lines stay newest first. The
// address is the host alone: each request of a page may come from another
// port.
func Grouped(rows []AccessView, gap time.Duration) []AccessView {
	type key struct {
		user, output, remote string
		audience             string
	}
	open := map[key]int{} // the oldest line so far of each key, by index in out
	out := make([]AccessView, 0, len(rows))
	for _, r := range rows {
		r.Remote = host(r.Remote)
		k := key{r.User, r.Output, r.Remote, string(r.Audience)}
		if i, ok := open[k]; ok && (r.Ended.IsZero() || out[i].Started.Sub(r.Ended) <= gap) {
			g := &out[i]
			g.Count++
			g.Bytes += r.Bytes
			if r.Started.Before(g.Started) {
				g.Started = r.Started
			}
			if r.Ended.IsZero() {
				g.Ended = time.Time{}
			}
			continue
		}
		r.Count = 1
		open[k] = len(out)
		out = append(out, r)
	}
	return out
}

// host is remote without its port.
func host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
