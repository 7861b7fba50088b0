package marathon

import "encoding/json"

// Info is the body of GET /v2/info.
type Info struct {
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	Buildref        string          `json:"buildref"`
	Elected         bool            `json:"elected"`
	Leader          string          `json:"leader,omitempty"`
	FrameworkID     string          `json:"frameworkId,omitempty"`
	MarathonConfig  MarathonConfig  `json:"marathon_config"`
	ZooKeeperConfig ZooKeeperConfig `json:"zookeeper_config"`
	HTTPConfig      HTTPConfig      `json:"http_config"`
}

// MarathonConfig is the scheduler's configuration as /v2/info shows it;
// durations are in milliseconds unless Marathon's flag says otherwise.
type MarathonConfig struct {
	AccessControlAllowOrigin       []string `json:"access_control_allow_origin"`
	Checkpoint                     bool     `json:"checkpoint"`
	DeclineOfferDuration           int64    `json:"decline_offer_duration"`
	DefaultNetworkName             string   `json:"default_network_name,omitempty"`
	EnvVarsPrefix                  string   `json:"env_vars_prefix,omitempty"`
	Executor                       string   `json:"executor"`
	FailoverTimeout                int64    `json:"failover_timeout"`
	Features                       []string `json:"features"`
	FrameworkName                  string   `json:"framework_name"`
	HA                             bool     `json:"ha"`
	Hostname                       string   `json:"hostname"`
	LaunchToken                    int      `json:"launch_token"`
	LaunchTokenRefreshInterval     int64    `json:"launch_token_refresh_interval"`
	LeaderProxyConnectionTimeoutMS int      `json:"leader_proxy_connection_timeout_ms"`
	LeaderProxyReadTimeoutMS       int      `json:"leader_proxy_read_timeout_ms"`
	LocalPortMax                   int      `json:"local_port_max"`
	LocalPortMin                   int      `json:"local_port_min"`
	Master                         string   `json:"master"`
	MaxInstancesPerOffer           int      `json:"max_instances_per_offer"`
	MesosBridgeName                string   `json:"mesos_bridge_name"`
	MesosHeartbeatFailureThreshold int      `json:"mesos_heartbeat_failure_threshold"`
	MesosHeartbeatInterval         int64    `json:"mesos_heartbeat_interval"`
	MesosLeaderUIURL               string   `json:"mesos_leader_ui_url"`
	MesosRole                      string   `json:"mesos_role,omitempty"`
	MesosUser                      string   `json:"mesos_user,omitempty"`
	MinReviveOffersInterval        int64    `json:"min_revive_offers_interval"`
	OfferMatchingTimeout           int64    `json:"offer_matching_timeout"`
	OnElectedPrepareTimeout        int64    `json:"on_elected_prepare_timeout"`
	ReconciliationInitialDelay     int64    `json:"reconciliation_initial_delay"`
	ReconciliationInterval         int64    `json:"reconciliation_interval"`
	ScaleAppsInitialDelay          int64    `json:"scale_apps_initial_delay"`
	ScaleAppsInterval              int64    `json:"scale_apps_interval"`
	StoreCache                     bool     `json:"store_cache"`
	TaskLaunchConfirmTimeout       int64    `json:"task_launch_confirm_timeout"`
	TaskLaunchTimeout              int64    `json:"task_launch_timeout"`
	TaskLostExpungeInitialDelay    int64    `json:"task_lost_expunge_initial_delay"`
	TaskLostExpungeInterval        int64    `json:"task_lost_expunge_interval"`
	TaskReservationTimeout         int64    `json:"task_reservation_timeout"`
	WebUIURL                       string   `json:"webui_url,omitempty"`
}

// MarshalJSON writes the lists as [] rather than null.
func (c MarathonConfig) MarshalJSON() ([]byte, error) {
	type alias MarathonConfig
	v := alias(c)
	v.AccessControlAllowOrigin = orEmpty(v.AccessControlAllowOrigin)
	v.Features = orEmpty(v.Features)
	return json.Marshal(v)
}

// ZooKeeperConfig is Marathon's state store configuration. Corral keeps
// its state in etcd; masterd fills in what describes that store.
type ZooKeeperConfig struct {
	ZK                     string `json:"zk"`
	ZKCompression          bool   `json:"zk_compression"`
	ZKCompressionThreshold int64  `json:"zk_compression_threshold"`
	ZKConnectionTimeout    int64  `json:"zk_connection_timeout"`
	ZKMaxNodeSize          int64  `json:"zk_max_node_size"`
	ZKMaxVersions          int    `json:"zk_max_versions"`
	ZKSessionTimeout       int64  `json:"zk_session_timeout"`
	ZKTimeout              int64  `json:"zk_timeout"`
}

// HTTPConfig are the API's ports.
type HTTPConfig struct {
	HTTPPort  int `json:"http_port"`
	HTTPSPort int `json:"https_port"`
}

// LeaderInfo is the body of GET /v2/leader.
type LeaderInfo struct {
	Leader string `json:"leader"`
}

// Message is a body with only a message, such as DELETE /v2/leader's.
type Message struct {
	Message string `json:"message"`
}
