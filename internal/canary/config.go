package canary

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config is one canary run. Zero optional fields take the documented defaults.
type Config struct {
	// Bin is the vigil binary to run. Required.
	Bin string
	// Dir is a scratch directory for the data directory and logs. Required.
	Dir string
	// Nodes is the number of Vigil nodes. It defaults to 1; more is a
	// cluster on one Postgres with embedded NATS routed node to node, whose
	// fault schedule kills nodes and cuts the routes (see cluster.go).
	Nodes int
	// Postgres is the DSN of a Postgres database for a cluster's store
	// (each run needs an empty one). It defaults to a throwaway server
	// (package pgproc) that the run starts and stops.
	Postgres string
	// Cameras is the number of simulated cameras. It defaults to 200.
	Cameras int
	// Users is the number of users. It defaults to 100.
	Users int
	// Viewers is the number of concurrent viewer clients. It defaults to
	// Cameras, at least 8.
	Viewers int
	// Duration is how long the load runs after setup. It defaults to 12 minutes.
	Duration time.Duration
	// Cycle is the length of one round of the fault schedule (calm, poor
	// network, reconnect storm, cancellations, camera restarts, Vigil
	// restart). It defaults to Duration/10, at least 30 s.
	Cycle time.Duration
	// Movers is the number of goroutines moving the world (handovers,
	// re-shares, password changes, API token deletions; see world), each
	// making a move every second or two. It defaults to Cameras/20, at
	// least 1; -1 keeps the world still.
	Movers int
	// Seed draws the layout, the camera parameters, the schedule's choices
	// and the viewers' choices. It defaults to the current time.
	Seed int64
	// FPS is the cameras' frame rate. It defaults to 15.
	FPS int
	// Mutant, if set, is passed to Vigil as VIGIL_MUTANT; the binary must
	// be built with -tags canarymutant, which the run verifies.
	Mutant string
	// StopOnViolation ends the run Linger after the first violation
	// (mutant runs).
	StopOnViolation bool
	// Linger is how long the load goes on after the first violation with
	// StopOnViolation, to see whether anything reaches a viewer once the
	// server has caught a mix-up at egress. It defaults to 0.
	Linger time.Duration
	// Flows adds viewer flows to the built-in ones (see Flow): the hook for
	// outputs still to come, such as the Google Home EXECUTE flow.
	Flows []Flow
	// Logger defaults to discarding.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Bin == "" || c.Dir == "" {
		return errors.New("canary: Config.Bin and Config.Dir are required")
	}
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if c.Cameras == 0 {
		c.Cameras = 200
	}
	if c.Users == 0 {
		c.Users = 100
	}
	if c.Cameras < 4 || c.Users < 3 {
		return fmt.Errorf("canary: need at least 4 cameras and 3 users, got %d and %d", c.Cameras, c.Users)
	}
	if c.Viewers == 0 {
		c.Viewers = max(8, c.Cameras)
	}
	if c.Duration == 0 {
		c.Duration = 12 * time.Minute
	}
	if c.Cycle == 0 {
		c.Cycle = max(30*time.Second, c.Duration/10)
	}
	if c.Movers == 0 {
		c.Movers = max(1, c.Cameras/20)
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	if c.FPS == 0 {
		c.FPS = 15
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
