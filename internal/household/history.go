package household

import "time"

// HistoryGap is how far apart two sessions of the same viewer, output and
// address may be and still read as one line: the page's thumbnail refresh
// every 10 seconds is one line per viewer, not six a minute.
const HistoryGap = 5 * time.Minute

// Grouped merges rows (newest first, as History returns them) of the same
// viewer, output, audience and address that follow each other within gap
// into one line: Count sessions from the first start to the last end (zero
// while any is ongoing), their bytes summed. Lines stay newest first.
func Grouped(rows []AccessView, gap time.Duration) []AccessView {
	type key struct {
		user, output, remote string
		audience             string
	}
	open := map[key]int{} // the oldest line so far of each key, by index in out
	out := make([]AccessView, 0, len(rows))
	for _, r := range rows {
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
