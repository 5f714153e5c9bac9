package hub

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
)

// Cameras is a Prometheus collector of every provisioned camera's main
// stream, whether or not it ever connected: vigil_camera_up{camera} (1
// while a publisher is live on this node) and vigil_camera_last_frame_age_seconds
// {camera} (since ingest last received a unit; +Inf if it never did since
// this process started). The series of the streams that published
// (vigil_ingest_*) leave out a camera that never connected; these do not.
type Cameras struct {
	Hub *Hub
	// List returns the provisioned cameras; it is called on every scrape,
	// bounded by listTimeout. A failure makes the scrape report an error.
	List func(ctx context.Context) ([]access.DeviceID, error)
	// Now defaults to time.Now.
	Now func() time.Time
}

var _ prometheus.Collector = (*Cameras)(nil)

// listTimeout bounds the camera list a scrape waits for.
const listTimeout = 5 * time.Second

var (
	cameraUpDesc = prometheus.NewDesc("vigil_camera_up",
		"1 while the camera's main stream has a live publisher, else 0; one series per provisioned camera.", []string{"camera"}, nil)
	cameraAgeDesc = prometheus.NewDesc("vigil_camera_last_frame_age_seconds",
		"Seconds since the camera's main stream last sent a unit (+Inf: not since this process started).", []string{"camera"}, nil)
)

// Describe sends the two series' descriptions.
func (c *Cameras) Describe(ch chan<- *prometheus.Desc) {
	ch <- cameraUpDesc
	ch <- cameraAgeDesc
}

// Collect lists the cameras and reports each one's state now.
func (c *Cameras) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	ids, err := c.List(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(cameraUpDesc, err)
		return
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	for _, id := range ids {
		up := 0.0
		if c.Hub.Publishing(id, access.StreamMain) { // this node's: in a cluster, its home node reports it
			up = 1
		}
		age := math.Inf(1)
		if t, ok := c.Hub.LastFrame(id, access.StreamMain); ok {
			age = max(0, now().Sub(t).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(cameraUpDesc, prometheus.GaugeValue, up, string(id))
		ch <- prometheus.MustNewConstMetric(cameraAgeDesc, prometheus.GaugeValue, age, string(id))
	}
}
