package marathon

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func hasDetail(details []ErrorDetail, path, msg string) bool {
	for _, d := range details {
		if d.Path == path && slices.Contains(d.Errors, msg) {
			return true
		}
	}
	return false
}

// TestValidateRules runs one body per rule through ParseApp and checks the
// 422 detail it yields. Bodies build on {"id": "/a", "cmd": "x"} unless
// they replace id or cmd.
func TestValidateRules(t *testing.T) {
	tests := []struct {
		name      string
		body      string // members added to {"id":"/a","cmd":"x"}, or a whole object
		path, msg string
	}{
		// ids
		{"id segment pattern", `{"id":"/Web","cmd":"x"}`, "/id", msgIDPattern},
		{"id segment starts with dash", `{"id":"/-web","cmd":"x"}`, "/id", msgIDPattern},
		{"id reserved keyword", `{"id":"/a/tasks","cmd":"x"}`, "/id", "must not end with any of the following reserved keywords: restart, tasks, versions"},
		{"id root is empty", `{"id":"/","cmd":"x"}`, "/id", "Path must contain at least one path element"},
		{"id root", `{"id":"/","cmd":"x"}`, "/", "must not be root"},
		{"id resolving to root", `{"id":"a/..","cmd":"x"}`, "/", "must not be root"},
		{"dependency pattern", `"dependencies":["/B"]`, "/dependencies(0)", msgIDPattern},
		{"id too long to launch", `{"id":"/` + strings.Repeat("a", 128) + `","cmd":"x"}`, "/id", "got 129 characters, expected 128 or less"},
		{"relative id too long to launch", `{"id":"` + strings.Repeat("a/", 64) + `b","cmd":"x"}`, "/id", "got 130 characters, expected 128 or less"},

		// command
		{"cmd and args", `"args":["y"]`, "/", msgCmdArgsContainer},
		{"empty cmd", `{"id":"/a","cmd":"","container":{"docker":{"image":"i"}}}`, "/", msgEmptyCmd},
		{"neither cmd, args nor container", `{"id":"/a"}`, "/", msgCmdArgsContainer},
		{"imageless container is no command", `{"id":"/a","container":{"type":"MESOS"}}`, "/", msgCmdArgsContainer},
		{"executor pattern", `"executor":"/test/"`, "/executor", "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'"},

		// resources and backoff
		{"cpus minimum", `"cpus":0`, "/cpus", "got 0.0, expected 0.001 or more"},
		{"mem minimum", `"mem":-1`, "/mem", "got -1.0, expected 0.0 or more"},
		{"disk minimum", `"disk":-0.5`, "/disk", "got -0.5, expected 0.0 or more"},
		{"gpus minimum", `"gpus":-1`, "/gpus", "got -1, expected 0 or more"},
		{"instances minimum", `"instances":-1`, "/instances", "got -1, expected 0 or more"},
		{"backoffSeconds minimum", `"backoffSeconds":-1`, "/backoffSeconds", "got -1, expected 0 or more"},
		{"backoffFactor minimum", `"backoffFactor":0.5`, "/backoffFactor", "got 0.5, expected 1.0 or more"},
		{"maxLaunchDelaySeconds minimum", `"maxLaunchDelaySeconds":-1`, "/maxLaunchDelaySeconds", "got -1, expected 0 or more"},
		{"taskKillGracePeriodSeconds minimum", `"taskKillGracePeriodSeconds":-1`, "/taskKillGracePeriodSeconds", "got -1, expected 0 or more"},
		{"gpus need the Mesos containerizer", `{"id":"/a","gpus":1,"container":{"docker":{"image":"i"}}}`, "/", msgGPUDocker},

		// port definitions
		{"portDefinition port range", `"portDefinitions":[{"port":70000}]`, "/portDefinitions(0)/port", "got 70000, expected between 0 and 65535"},
		{"portDefinition names unique", `"portDefinitions":[{"port":0,"name":"http"},{"port":0,"name":"http"}]`, "/portDefinitions", msgPortNamesUnique},
		{"portDefinition ports unique", `"portDefinitions":[{"port":8080},{"port":8080}]`, "/portDefinitions", msgPortsUnique},
		{"portDefinition name pattern", `"portDefinitions":[{"port":0,"name":"Http"}]`, "/portDefinitions(0)/name", "must fully match regular expression '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"},
		{"portDefinition protocol", `"portDefinitions":[{"port":0,"protocol":"sctp"}]`, "/portDefinitions(0)/protocol", "is not one of (tcp,udp,udp,tcp)"},

		// the deprecated API
		{"ports unique", `"ports":[8080,8080]`, "/", msgLegacyPortsUnique},
		{"ports range", `"ports":[70000]`, "/ports(0)", "got 70000, expected between 0 and 65535"},
		{"ports and portDefinitions differ", `"ports":[1],"portDefinitions":[{"port":2}]`, "/", msgPortsAndDefinitions},
		{"uris and fetch", `"uris":["http://a/b"],"fetch":[{"uri":"http://a/c"}]`, "/uris", msgURIsAndFetch},
		{"docker network and networks", `{"id":"/a","networks":[{"mode":"host"}],"container":{"docker":{"image":"i","network":"HOST"}}}`, "/", msgDockerNetworkAndNetworks},
		{"docker network NONE", `{"id":"/a","container":{"docker":{"image":"i","network":"NONE"}}}`, "/container/docker/network", "unsupported docker network type NONE"},
		{"docker network enum", `{"id":"/a","container":{"docker":{"image":"i","network":"OVERLAY"}}}`, "/container/docker/network", "is not one of (BRIDGE,HOST,NONE,USER)"},
		{"docker network on MESOS", `{"id":"/a","container":{"type":"MESOS","docker":{"image":"i","network":"BRIDGE"}}}`, "/container/docker/network", msgMustBeEmpty},
		{"docker parameters on MESOS", `{"id":"/a","container":{"type":"MESOS","docker":{"image":"i","parameters":[{"key":"a","value":"b"}]}}}`, "/container/docker/parameters", msgMustBeEmpty},
		{"docker credential", `{"id":"/a","container":{"docker":{"image":"i","credential":{"principal":"p"}}}}`, "/container/docker/credential", msgMustBeEmpty},
		{"both portMappings", `{"id":"/a","container":{"docker":{"image":"i","portMappings":[{"containerPort":1}]},"portMappings":[]}}`, "/container", msgBothPortMappings},
		{"docker portMapping names unique", `{"id":"/a","container":{"docker":{"image":"i","network":"BRIDGE","portMappings":[{"name":"a"},{"name":"a"}]}}}`, "/container/docker/portMappings", msgPortNamesUnique},
		{"ipAddress and networks", `"ipAddress":{},"networks":[{"mode":"host"}]`, "/", msgIPAddressAndNetworks},
		{"ipAddress and ports", `"ipAddress":{},"portDefinitions":[{"port":0}]`, "/", msgIPAddressAndPorts},
		{"ipAddress discovery on Docker", `{"id":"/a","ipAddress":{"discovery":{"ports":[]}},"container":{"docker":{"image":"i"}}}`, "/ipAddress", msgDiscoveryDocker},
		{"ipAddress discovery and portMappings", `"ipAddress":{"discovery":{"ports":[{"number":1,"name":"a"}]}},"container":{"type":"MESOS","portMappings":[]}`, "/container", msgDiscoveryAndPortMappings},

		// containers
		{"container type", `"container":{"type":"RKT"}`, "/container/type", "is not one of (MESOS,DOCKER)"},
		{"DOCKER container without docker", `"container":{"type":"DOCKER"}`, "/container/docker", msgNotDefined},
		{"empty image", `{"id":"/a","container":{"docker":{"image":""}}}`, "/container/docker/image", msgMustNotBeEmpty},
		{"docker parameter key", `"container":{"docker":{"image":"i","parameters":[{"key":"","value":"v"}]}}`, "/container/docker/parameters(0)/key", msgMustNotBeEmpty},
		{"pullConfig with Docker", `"container":{"docker":{"image":"i","pullConfig":{"secret":"s"}}}`, "/container/docker/pullConfig", msgPullConfigDocker},
		{"pullConfig secret", `"container":{"type":"MESOS","docker":{"image":"i","pullConfig":{"secret":"s"}}}`, "/container/docker/pullConfig", msgPullConfigSecret},
		{"host volume path", `"container":{"type":"MESOS","volumes":[{"containerPath":"/data","mode":"RW"}]}`, "/container/volumes(0)/hostPath", msgMustNotBeEmpty},
		{"volume containerPath", `"container":{"type":"MESOS","volumes":[{"containerPath":"","hostPath":"/d","mode":"RW"}]}`, "/container/volumes(0)/containerPath", msgMustNotBeEmpty},
		{"volume mode", `"container":{"type":"MESOS","volumes":[{"containerPath":"/d","hostPath":"/d","mode":"RX"}]}`, "/container/volumes(0)/mode", "is not one of (RO,RW)"},
		{"persistent volume size", `"container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":0}}]}`, "/container/volumes(0)/persistent/size", "got 0, expected more than 0"},
		{"persistent volume path", `"container":{"type":"MESOS","volumes":[{"containerPath":"a/b","mode":"RW","persistent":{"size":1}}]}`, "/container/volumes(0)/containerPath", `value must not contain "/"`},
		{"secret volume", `"container":{"type":"MESOS","volumes":[{"containerPath":"s","secret":"nope"}]}`, "/container/volumes(0)", msgVolumeSecret},

		// networks and port mappings
		{"network mode", `"networks":[{"mode":"overlay","name":"x"}]`, "/networks(0)/mode", "is not one of (container,container/bridge,host)"},
		{"host network with a name", `"networks":[{"mode":"host","name":"x"}]`, "/networks", msgHostNetNameLabels},
		{"bridge network with a name", `"networks":[{"mode":"container/bridge","name":"x"}]`, "/networks", msgBridgeNetName},
		{"duplicate networks", `"networks":[{"name":"x"},{"name":"x"}]`, "/networks", msgDuplicateNetworks},
		{"host and bridge", `"networks":[{"mode":"host"},{"mode":"container/bridge"}]`, "/networks", msgNetworkCombination},
		{"two bridges", `"networks":[{"mode":"container/bridge"},{"mode":"container/bridge"}]`, "/networks", msgNetworkCombination},
		{"container network without a name", `"networks":[{"mode":"container"}]`, "/networks", msgNetworkNameRequired},
		{"network name pattern", `"networks":[{"name":"Blue"}]`, "/networks(0)/name", "must fully match regular expression '^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$'"},
		{"Docker joins one container network", `{"id":"/a","networks":[{"name":"x"},{"name":"y"}],"container":{"docker":{"image":"i"}}}`, "/", msgDockerOneNetwork},
		{"portMapping names unique", `"networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"name":"a"},{"name":"a"}]}`, "/container/portMappings", msgPortNamesUnique},
		{"portMapping containerPort range", `"networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"containerPort":-1}]}`, "/container/portMappings(0)/containerPort", "got -1, expected between 0 and 65535"},
		{"portMapping hostPort range", `"networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"hostPort":65536}]}`, "/container/portMappings(0)/hostPort", "got 65536, expected between 0 and 65535"},
		{"portMapping servicePort range", `"networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"servicePort":65536}]}`, "/container/portMappings(0)/servicePort", "got 65536, expected between 0 and 65535"},
		{"portMapping protocol", `"networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"protocol":"TCP"}]}`, "/container/portMappings(0)/protocol", "is not one of (tcp,udp,udp,tcp)"},
		{"portMapping name pattern", `"networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"name":"a_b"}]}`, "/container/portMappings(0)/name", "must fully match regular expression '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"},
		{"portMapping networkNames", `"networks":[{"name":"blue"}],"container":{"type":"MESOS","portMappings":[{"networkNames":["red"]}]}`, "/container/portMappings(0)/networkNames(0)", "is not one of (blue)"},
		{"hostPort on several container networks", `"networks":[{"name":"blue"},{"name":"red"}],"container":{"type":"MESOS","portMappings":[{"hostPort":0}]}`, "/container/portMappings(0)", msgNetworkNameForHostPort},

		// health checks
		{"health check portIndex beyond ports", `"healthChecks":[{"portIndex":1}]`, "/healthChecks(0)", msgPortIndex},
		{"Mesos HTTP check portIndex beyond ports", `"healthChecks":[{"protocol":"MESOS_HTTP","portIndex":5}]`, "/healthChecks(0)", msgPortIndex},
		{"Mesos TCP check portIndex beyond ports", `"portDefinitions":[{"port":0},{"port":0}],"healthChecks":[{"protocol":"MESOS_TCP","portIndex":2}]`, "/healthChecks(0)", msgPortIndex},
		{"Mesos HTTPS check without ports", `"portDefinitions":[],"healthChecks":[{"protocol":"MESOS_HTTPS"}]`, "/healthChecks(0)", msgPortIndex},
		{"HTTP health check without ports", `"portDefinitions":[],"healthChecks":[{}]`, "/healthChecks(0)", msgPortIndex},
		{"TCP health check without ports", `"portDefinitions":[],"healthChecks":[{"protocol":"TCP"}]`, "/healthChecks(0)", msgPortIndex},
		{"health check protocol", `"healthChecks":[{"protocol":"UDP"}]`, "/healthChecks(0)/protocol", "is not one of (HTTP,HTTPS,TCP,COMMAND,MESOS_HTTP,MESOS_HTTPS,MESOS_TCP)"},
		{"COMMAND without command", `"healthChecks":[{"protocol":"COMMAND"}]`, "/healthChecks(0)/command", msgCommandRequired},
		{"two Mesos health checks", `"healthChecks":[{"protocol":"MESOS_HTTP"},{"protocol":"MESOS_TCP"}]`, "/", msgOneMesosCheck},
		{"health check ipProtocol", `"healthChecks":[{"ipProtocol":"IPv5"}]`, "/healthChecks(0)/ipProtocol", "is not one of (IPv4,IPv6)"},
		{"IPv6 Marathon health check", `"healthChecks":[{"ipProtocol":"IPv6"}]`, "/healthChecks(0)", msgIPv6Checks},
		{"health check grace period", `"healthChecks":[{"gracePeriodSeconds":-1}]`, "/healthChecks(0)/gracePeriodSeconds", "got -1, expected 0 or more"},
		{"health check interval", `"healthChecks":[{"intervalSeconds":-1}]`, "/healthChecks(0)/intervalSeconds", "got -1, expected 0 or more"},
		{"health check timeout", `"healthChecks":[{"timeoutSeconds":-1}]`, "/healthChecks(0)/timeoutSeconds", "got -1, expected 0 or more"},
		{"health check failures", `"healthChecks":[{"maxConsecutiveFailures":-1}]`, "/healthChecks(0)/maxConsecutiveFailures", "got -1, expected 0 or more"},
		{"health check delay", `"healthChecks":[{"delaySeconds":-1}]`, "/healthChecks(0)/delaySeconds", "got -1, expected 0 or more"},
		{"health check port", `"healthChecks":[{"port":65536}]`, "/healthChecks(0)/port", "got 65536, expected between 0 and 65535"},

		// readiness checks
		{"one readiness check", `"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{},{}]`, "/readinessChecks", "got 2, expected 1 or less"},
		{"readiness portName", `"readinessChecks":[{}]`, "/readinessChecks(0)/portName", "No port definition reference for portName http-api"},
		{"readiness timeout below interval", `"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"intervalSeconds":5}]`, "/readinessChecks(0)/timeoutSeconds", "got 10, expected less than 5"},
		{"readiness protocol", `"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"protocol":"TCP"}]`, "/readinessChecks(0)/protocol", "is not one of (HTTP,HTTPS)"},
		{"readiness status codes", `"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"httpStatusCodesForReady":[99]}]`, "/readinessChecks(0)/httpStatusCodesForReady(0)", "got 99, expected between 100 and 999"},

		// artifacts
		{"fetch uri syntax", `"fetch":[{"uri":"http://a/b"},{"uri":"d://\nnot-a-uri"}]`, "/fetch(1)/uri", msgURISyntax},
		{"fetch uri empty", `"fetch":[{"uri":""}]`, "/fetch(0)/uri", msgMustNotBeEmpty},
		{"uris syntax", `"uris":["http://a/\u0000"]`, "/uris(0)", msgURISyntax},
		{"storeUrls protocol", `"storeUrls":["store"]`, "/storeUrls(0)", "no protocol: store"},

		// environment and secrets
		{"env secret reference", `"env":{"PASSWORD":{"secret":"db"}}`, "/env/PASSWORD", "references an undefined secret named 'db'"},
		// labels agents act on
		{"seccomp label", `"labels":{"CORRAL_SECCOMP":"off"}`, "/labels/CORRAL_SECCOMP", "is not one of (unconfined,default)"},
		{"secret source", `"secrets":{"db":{"source":""}}`, "/secrets/db/source", msgMustNotBeEmpty},

		// constraints
		{"constraint arity short", `"constraints":[["hostname"]]`, "/constraints(0)", msgConstraintArity},
		{"constraint arity long", `"constraints":[["a","LIKE","b","c"]]`, "/constraints(0)", msgConstraintArity},
		{"constraint field", `"constraints":[["","UNIQUE"]]`, "/constraints(0)", msgConstraintField},
		{"constraint operator", `"constraints":[["hostname","unique"]]`, "/constraints(0)", msgConstraintOperator},
		{"UNIQUE with a value", `"constraints":[["hostname","UNIQUE","x"]]`, "/constraints(0)", msgUniqueValue},
		{"GROUP_BY value", `"constraints":[["rack","GROUP_BY","three"]]`, "/constraints(0)", msgGroupByValue},
		{"MAX_PER without value", `"constraints":[["rack","MAX_PER"]]`, "/constraints(0)", msgMaxPerValue},
		{"MAX_PER value", `"constraints":[["rack","MAX_PER","2.5"]]`, "/constraints(0)", msgMaxPerValue},
		{"LIKE without value", `"constraints":[["rack","LIKE"]]`, "/constraints(0)", msgRegexRequired},
		{"LIKE regex", `"constraints":[["rack","LIKE","rack-[1-3"]]`, "/constraints(0)", "'rack-[1-3' is not a valid regular expression"},
		{"UNLIKE regex", `"constraints":[["rack","UNLIKE","("]]`, "/constraints(0)", "'(' is not a valid regular expression"},
		{"IS without value", `"constraints":[["rack","IS"]]`, "/constraints(0)", msgIsValue},
		{"IS value", `"constraints":[["rack","IS","rack 1"]]`, "/constraints(0)", msgIsValue},
		{"second constraint", `"constraints":[["hostname","UNIQUE"],["rack","MAX_PER"]]`, "/constraints(1)", msgMaxPerValue},

		// scheduling
		{"minimumHealthCapacity range", `"upgradeStrategy":{"minimumHealthCapacity":1.2,"maximumOverCapacity":1}`, "/upgradeStrategy/minimumHealthCapacity", "got 1.2, expected between 0.0 and 1.0"},
		{"maximumOverCapacity range", `"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":-0.5}`, "/upgradeStrategy/maximumOverCapacity", "got -0.5, expected between 0.0 and 1.0"},
		{"single instance app instances", `"instances":2,"labels":{"MARATHON_SINGLE_INSTANCE_APP":"true"},"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":0}`, "/", msgSingleInstance},
		{"single instance app upgrade", `"labels":{"MARATHON_SINGLE_INSTANCE_APP":"true"}`, "/upgradeStrategy/minimumHealthCapacity", "got 1.0, expected 0.0"},
		{"resident app over capacity", `"container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":1}}]},"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0.5}`, "/upgradeStrategy/maximumOverCapacity", "got 0.5, expected 0.0"},
		{"killSelection", `"killSelection":"RANDOM"`, "/killSelection", "is not one of (YOUNGEST_FIRST,OLDEST_FIRST)"},
		{"acceptedResourceRoles empty", `"acceptedResourceRoles":[]`, "/acceptedResourceRoles", msgMustNotBeEmpty},
		{"acceptedResourceRoles role", `"acceptedResourceRoles":["a/b"]`, "/acceptedResourceRoles(0)", `invalid role "a/b", must be * or a Mesos role name`},
		{"unreachable inactive after expunge", `"unreachableStrategy":{"inactiveAfterSeconds":10,"expungeAfterSeconds":5}`, "/unreachableStrategy/inactiveAfterSeconds", "inactiveAfterSeconds (10) must be less or equal to expungeAfterSeconds, which is 5"},
		{"unreachable inactive negative", `"unreachableStrategy":{"inactiveAfterSeconds":-1}`, "/unreachableStrategy/inactiveAfterSeconds", "inactiveAfterSeconds (-1) must be greater than or equal to 0"},
		{"unreachable expunge negative", `"unreachableStrategy":{"inactiveAfterSeconds":-5,"expungeAfterSeconds":-1}`, "/unreachableStrategy/expungeAfterSeconds", "got -1, expected 0 or more"},
		{"resident app unreachable", `"container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":1}}]},"unreachableStrategy":{"inactiveAfterSeconds":0}`, "/", msgResidentUnreachable},
		{"residency without volumes", `"residency":{}`, "/", msgResidency},
		{"residency taskLostBehavior", `"container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":1}}]},"residency":{"taskLostBehavior":"GIVE_UP"}`, "/residency/taskLostBehavior", "is not one of (WAIT_FOREVER,RELAUNCH_AFTER_TIMEOUT)"},
		{"version", `"version":"yesterday"`, "/version", "must be an ISO 8601 date-time such as 2015-09-30T09:09:17.614Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if !strings.HasPrefix(body, "{") {
				body = `{"id":"/a","cmd":"x",` + body + `}`
			}
			_, details, err := ParseApp([]byte(body))
			if err != nil {
				t.Fatalf("ParseApp(%s) = %v, want a 422", body, err)
			}
			if !hasDetail(details, tt.path, tt.msg) {
				t.Errorf("ParseApp(%s) details = %v, want %s: %q", body, details, tt.path, tt.msg)
			}
		})
	}
}

// TestValidateAccepts checks bodies that Marathon accepts, each near a rule
// above.
func TestValidateAccepts(t *testing.T) {
	tests := []string{
		`{"id":"/a","cmd":"x"}`,
		`{"id":"a/b.c-d/e","cmd":"x"}`,
		`{"id":"/a","args":["x"]}`,
		`{"id":"/a","container":{"docker":{"image":"nginx"}}}`,
		`{"id":"/a","cmd":"x","container":{"type":"MESOS","docker":{"image":"nginx"}}}`,
		`{"id":"/a","cmd":"x","instances":0,"mem":0,"cpus":0.001,"executor":"//cmd"}`,
		`{"id":"/a","cmd":"x","executor":"some/relative/path.mte"}`,
		`{"id":"/a","cmd":"x","ports":[80,0,0],"portDefinitions":[{"port":80},{"port":0},{"port":0}],"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":0}}`,
		`{"id":"/a","cmd":"x","portDefinitions":[{"port":0},{"port":0}],"healthChecks":[{"portIndex":1},{"protocol":"COMMAND","command":{"value":"true"}},{"protocol":"COMMAND","command":{"value":"true"}},{"protocol":"MESOS_HTTP"}]}`,
		`{"id":"/a","cmd":"x","portDefinitions":[],"healthChecks":[{"port":8080}]}`,
		`{"id":"/a","cmd":"x","constraints":[["hostname","UNIQUE"],["hostname","UNIQUE",""],["rack","CLUSTER"],["rack","CLUSTER","r1"],["rack","GROUP_BY"],["rack","GROUP_BY","3"],["rack","MAX_PER","2"],["rack","LIKE","rack-[1-3]"],["rack","UNLIKE",".*"],["rack","IS","rack-1"],["level","IS","0.8"]]}`,
		`{"id":"/a","cmd":"x","portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"portName":"http","intervalSeconds":30,"timeoutSeconds":10}]}`,
		`{"id":"/a","cmd":"x","env":{"PASSWORD":{"secret":"db"}},"secrets":{"db":{"source":"/db/password"}}}`,
		`{"id":"/a","cmd":"x","unreachableStrategy":"disabled","killSelection":"OLDEST_FIRST","acceptedResourceRoles":["*","public"]}`,
		`{"id":"/a","cmd":"x","labels":{"MARATHON_SINGLE_INSTANCE_APP":"true"},"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":0}}`,
		`{"id":"/a","cmd":"x","labels":{"CORRAL_SECCOMP":"unconfined"}}`,
		`{"id":"/a","cmd":"x","labels":{"CORRAL_SECCOMP":"default"}}`,
		`{"id":"/a","cmd":"x","networks":[{"name":"blue"},{"name":"red"}],"container":{"type":"MESOS","portMappings":[{"containerPort":80,"hostPort":0,"networkNames":["blue"]},{"containerPort":81}]}}`,
		`{"id":"/a","cmd":"x","container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":10}}]}}`,
		`{"id":"/a","cmd":"x","container":{"type":"MESOS","volumes":[{"containerPath":"/etc/a","hostPath":"/var/a","mode":"RO"}]}}`,
		`{"id":"/a","cmd":"x","version":"2015-09-25T15:13:48.343Z"}`,
		`{"id":"/a","container":{"docker":{"image":"i","network":"BRIDGE","portMappings":[{"containerPort":80,"hostPort":0,"servicePort":10000,"protocol":"tcp","name":"http"}]}}}`,
		`{"id":"/a","cmd":"x","fetch":[{"uri":"/root/file"},{"uri":"https://a/b.tgz","executable":true}]}`,
	}
	for _, body := range tests {
		if _, details, err := ParseApp([]byte(body)); err != nil || details != nil {
			t.Errorf("ParseApp(%s) = %v, %v, want a valid app", body, details, err)
		}
	}
}

// TestValidateDirect covers rules that ApplyDefaults makes unreachable
// through ParseApp: Validate reports them for apps built or changed in Go.
func TestValidateDirect(t *testing.T) {
	tests := []struct {
		name      string
		change    func(a *App)
		path, msg string
	}{
		{"portMappings with host networking", func(a *App) {
			a.Container = &Container{Type: EngineMesos, PortMappings: []PortMapping{{ContainerPort: 80}}}
		}, "/", msgPortMappingsOnHost},
		{"portDefinitions off host networking", func(a *App) {
			a.Networks = []Network{{Mode: NetworkBridge}}
		}, "/", msgPortDefinitionsOffHost},
		{"relative id", func(a *App) { a.ID = "a" }, "/id", msgIDRelative},
		{"empty id", func(a *App) { a.ID = "" }, "/id", msgIDEmpty},
		{"relative dependency", func(a *App) { a.Dependencies = []string{"b"} }, "/dependencies(0)", msgIDRelative},
		{"zero cpus of a Go app", func(a *App) { a.Cpus = 0 }, "/cpus", "got 0.0, expected 0.001 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustParse(t, `{"id":"/a","cmd":"x"}`)
			tt.change(&a)
			if got := a.Validate(); !hasDetail(got, tt.path, tt.msg) {
				t.Errorf("Validate() = %v, want %s: %q", got, tt.path, tt.msg)
			}
		})
	}
}

// TestValidateGroupsByPath checks that violations on one path share one
// detail, in the order Marathon reports them.
func TestValidateGroupsByPath(t *testing.T) {
	_, details, err := ParseApp([]byte(`{"id":"/","cmd":"x","args":["y"],"cpus":0}`))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(details)
	want := "[{/id [Path must contain at least one path element]} {/ [must not be root " + msgCmdArgsContainer + "]} {/cpus [got 0.0, expected 0.001 or more]}]"
	if got != want {
		t.Errorf("details = %s\nwant      %s", got, want)
	}
}

func TestNum(t *testing.T) {
	for f, want := range map[float64]string{0: "0.0", 1: "1.0", -3: "-3.0", 0.001: "0.001", 1.15: "1.15", 65536: "65536.0"} {
		if got := num(f); got != want {
			t.Errorf("num(%v) = %q, want %q", f, got, want)
		}
	}
}
