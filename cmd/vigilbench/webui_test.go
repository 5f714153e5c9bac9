package main

import (
	"errors"
	"testing"
	"time"
)

func TestWebUIStats(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	good := func(ttff, phase int) webuiClick {
		return webuiClick{ttff: ms(ttff), phase: ms(phase), via: viaMP4, width: 1920, height: 1080}
	}
	failed := webuiClick{err: errors.New("no frame")}
	other := webuiClick{ttff: ms(5), via: viaWebRTC}
	tests := []struct {
		name   string
		clicks []webuiClick
		want   webuiStats
		slow   webuiSlow // over 300 ms
	}{
		{"none", nil, webuiStats{}, webuiSlow{}},
		{
			// The slow clicks' times plus phases are 940, 930 and 1990
			// (one whose click found a newer keyframe than its phase says);
			// their median is 940.
			"all good", []webuiClick{good(40, 1500), good(900, 40), good(30, 1200), good(600, 330), good(890, 1100), good(40, 1990)},
			webuiStats{clicks: 6, p50: ms(40), p95: ms(900), max: ms(900), first: ms(40), size: "1920×1080"},
			webuiSlow{n: 3, phaseMin: ms(40), phaseMax: ms(1100), sinceKey: ms(940)},
		},
		{
			// Failed and other-path clicks count apart and stay out of the
			// percentiles; the first click failed, so there is no first time.
			"failed and other path", []webuiClick{failed, good(50, 0), other, good(70, 0), failed},
			webuiStats{clicks: 5, failed: 2, otherVia: 1, p50: ms(50), p95: ms(70), max: ms(70), size: "1920×1080"},
			webuiSlow{},
		},
		{
			"exactly the limit is not over", []webuiClick{good(300, 10), good(301, 10)},
			webuiStats{clicks: 2, p50: ms(300), p95: ms(301), max: ms(301), first: ms(300), size: "1920×1080"},
			webuiSlow{n: 1, phaseMin: ms(10), phaseMax: ms(10), sinceKey: ms(311)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := webuiPath{via: viaMP4, clicks: tt.clicks}
			if got := p.stats(); got != tt.want {
				t.Errorf("stats = %+v, want %+v", got, tt.want)
			}
			if got := p.over(ms(300)); got != tt.slow {
				t.Errorf("over(300 ms) = %+v, want %+v", got, tt.slow)
			}
		})
	}
}
