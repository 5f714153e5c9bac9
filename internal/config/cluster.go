package config

import (
	"regexp"
	"strconv"
	"time"
)

// Clustered reports whether this node is one of a cluster (cluster_node is set).
func (c Config) Clustered() bool { return c.ClusterNode != "" }

// nodeName is what a node's name may hold: it names the node in NATS
// (server name, claims) and in logs.
var nodeName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// validateCluster checks the cluster keys: none but cluster_node's may be
// set alone, a cluster shares a Postgres store, and its nodes reach each
// other through an embedded NATS server's routes or an external NATS.
func (c Config) validateCluster(bad func(key, value, problem, want string)) {
	if !c.Clustered() {
		for _, k := range []struct {
			key string
			set bool
		}{
			{"cluster_listen", c.ClusterListen != ""}, {"cluster_routes", len(c.ClusterRoutes) > 0},
			{"cluster_secret", c.ClusterSecret.Reveal() != ""}, {"nats_url", c.NATSURL.Reveal() != ""},
		} {
			if k.set {
				bad(k.key, "(set)", "is set but cluster_node is not, so this node runs alone", "empty, or set cluster_node to this node's name")
			}
		}
		return
	}
	if !nodeName.MatchString(c.ClusterNode) {
		bad("cluster_node", c.ClusterNode, "is not a node name", "lower-case letters, digits and dashes, unique in the cluster, such as node-1")
	}
	if c.Store != StorePostgres {
		bad("store", string(c.Store), "must be postgres in a cluster (every node shares its accounts, devices and revocations)",
			"postgres, with store_dsn the database the nodes share")
	}
	if c.ClusterReplicas < 1 || c.ClusterReplicas > 5 {
		bad("cluster_replicas", strconv.Itoa(c.ClusterReplicas), "must be 1 to 5 and at most the number of nodes",
			"3 (a quorum survives one node's loss), or 1 for two nodes")
	}
	if c.ClusterDrain < 0 || c.ClusterDrain > 10*time.Minute {
		bad("cluster_drain", c.ClusterDrain.String(), "must be 0 to 10m", "a duration such as 10s (0 hands every camera off at once)")
	}
	if c.NATSURL.Reveal() != "" {
		return
	}
	if _, problem := checkAddr(c.ClusterListen, 1); problem != "" {
		bad("cluster_listen", c.ClusterListen, problem+" (where the embedded NATS server takes its peers' routes)",
			"host:port on the nodes' private network, such as 10.0.0.1:6222, or set nats_url to an external NATS cluster")
	}
	if c.ClusterAdvertise != "" {
		if _, problem := checkAddr(c.ClusterAdvertise, 1); problem != "" {
			bad("cluster_advertise", c.ClusterAdvertise, problem, "host:port the other nodes reach this node's routes at, or empty for cluster_listen")
		}
	}
	if len(c.ClusterRoutes) == 0 {
		bad("cluster_routes", "", "must list the nodes' cluster_listen addresses", "comma-separated host:port, such as 10.0.0.1:6222,10.0.0.2:6222")
	}
	for _, r := range c.ClusterRoutes {
		if _, problem := checkAddr(r, 1); problem != "" {
			bad("cluster_routes", r, problem, "comma-separated host:port of the nodes' cluster_listen addresses")
		}
	}
}
