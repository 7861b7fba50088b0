// Package marathon holds Marathon 1.x's v2 REST API wire types: apps with
// their defaults and validation rules, tasks, deployments, groups, the launch
// queue, /v2/info, the event stream's events and the error bodies. masterd
// serves them, routerd and the tests read them, and real Marathon's clients
// (marathon-lb, Bamboo, Traefik's go-marathon) must be able to read what
// masterd writes, so field names and shapes follow Marathon exactly.
//
// An app body goes through ParseApp the way Marathon's API takes it:
//
//  1. JSON syntax, JSON types and required fields: failures are 400
//     "Invalid JSON" with Play JSON's error keys ("error.expected.jsstring",
//     "error.path.missing", …) at paths such as "/healthChecks(0)/port".
//     (Marathon 1.4 sent these as 400; 1.5 and later send the same body
//     with 422.)
//  2. Decoding applies the defaults of Marathon's RAML (cpus 1, mem 128, …):
//     only the decoder can tell a missing field from an explicit zero.
//  3. The deprecated API (ports, uris, ipAddress, container.docker.network,
//     container.docker.portMappings) is checked, then migrated by
//     ApplyDefaults, which also fills the defaults that depend on other
//     fields (networks, port definitions, port mappings, health check port
//     indices, unreachable and upgrade strategies).
//  4. Validate applies Marathon's rules; failures are 422 "Object is not
//     valid" with Marathon's paths ("/cpus", "/healthChecks(0)",
//     "/portDefinitions") and messages. The RAML's ranges and enumerations
//     are among them, worded as Marathon's validators word such rules
//     ("got 0.0, expected 0.001 or more"); Marathon 1.5+ checks those while
//     reading the JSON and answers 422 "Invalid JSON" with Play's keys
//     ("error.min").
//
// Responses always carry the collections clients index without checking
// (labels, env, healthChecks, constraints, portDefinitions, ports, …) as
// {} or [] rather than null.
package marathon
