// Package mesos holds the wire contracts Corral shares with the Mesos world:
// resources in Mesos syntax, agent attributes, task states, the agent protocol
// between agentd and masterd, the scheduler (framework) calls and events, the
// /master/state document that Mesos-DNS and other tools read, and RecordIO
// framing for the long-lived streams.
package mesos
