package mesos

import (
	"sort"
	"strings"
	"time"
)

// Conversions between Corral's records and the operator API's v1 messages
// (master side), and from v1 messages to the /master/state document
// (client side, for tools that build on /master/state).

// NewTimeInfo returns t as a TimeInfo, nil for the zero time.
func NewTimeInfo(t time.Time) *TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &TimeInfo{Nanoseconds: t.UnixNano()}
}

// Seconds returns the time as /master/state's float seconds, 0 for nil.
func (t *TimeInfo) Seconds() float64 {
	if t == nil {
		return 0
	}
	return float64(t.Nanoseconds) / 1e9
}

func optID(s string) *V1ID {
	if s == "" {
		return nil
	}
	return &V1ID{Value: s}
}

func idValue(id *V1ID) string {
	if id == nil {
		return ""
	}
	return id.Value
}

// NewV1Resources renders r as the v1 resource list, every resource in the
// default role, names sorted.
func NewV1Resources(r Resources) []V1Resource {
	out := []V1Resource{}
	for _, n := range r.names() {
		if v, ok := r.Scalars[n]; ok {
			out = append(out, V1Resource{Name: n, Type: "SCALAR", Role: "*", Scalar: &V1Scalar{Value: v}})
		}
		if rs, ok := r.Ranges[n]; ok {
			rg := []Range(rs)
			if rg == nil {
				rg = []Range{}
			}
			out = append(out, V1Resource{Name: n, Type: "RANGES", Role: "*", Ranges: &V1Ranges{Range: rg}})
		}
	}
	return out
}

// V1ResourcesStateJSON renders a v1 resource list as /master/state does
// (see Resources.StateJSON); SET resources become "{a,b}".
func V1ResourcesStateJSON(list []V1Resource) map[string]any {
	var r Resources
	sets := map[string][]string{}
	for _, item := range list {
		switch {
		case item.Scalar != nil:
			r = r.Add(Resources{Scalars: map[string]float64{item.Name: item.Scalar.Value}})
		case item.Ranges != nil:
			var rs Ranges
			for _, rg := range item.Ranges.Range {
				if rg.Begin <= rg.End {
					rs = rs.Add(Ranges{rg})
				}
			}
			r = r.Add(Resources{Ranges: map[string]Ranges{item.Name: rs}})
		case item.Set != nil:
			sets[item.Name] = append(sets[item.Name], item.Set.Item...)
		}
	}
	m := r.StateJSON()
	for n, items := range sets {
		m[n] = setString(items)
	}
	return m
}

func setString(items []string) string {
	s := append([]string(nil), items...)
	sort.Strings(s)
	return "{" + strings.Join(s, ",") + "}"
}

// NewV1Attributes renders attributes as v1 ones: plain decimals as SCALAR,
// the rest as TEXT, as Mesos parses them.
func NewV1Attributes(as Attributes) []V1Attribute {
	var out []V1Attribute
	for _, a := range as {
		if v, ok := parseDecimal(a.Value); ok {
			out = append(out, V1Attribute{Name: a.Name, Type: "SCALAR", Scalar: &V1Scalar{Value: v}})
		} else {
			out = append(out, V1Attribute{Name: a.Name, Type: "TEXT", Text: &V1Text{Value: a.Value}})
		}
	}
	return out
}

// V1AttributesStateJSON renders v1 attributes as /master/state does.
func V1AttributesStateJSON(as []V1Attribute) map[string]any {
	m := make(map[string]any, len(as))
	for _, a := range as {
		switch {
		case a.Scalar != nil:
			m[a.Name] = a.Scalar.Value
		case a.Text != nil:
			m[a.Name] = a.Text.Value
		case a.Ranges != nil:
			var rs Ranges
			for _, rg := range a.Ranges.Range {
				if rg.Begin <= rg.End {
					rs = rs.Add(Ranges{rg})
				}
			}
			m[a.Name] = rs.String()
		case a.Set != nil:
			m[a.Name] = setString(a.Set.Item)
		}
	}
	return m
}

// NewV1TaskStatus renders a status update as a v1 TaskStatus.
func NewV1TaskStatus(st TaskStatus) V1TaskStatus {
	return V1TaskStatus{
		TaskID: V1ID{Value: st.TaskID}, State: st.State, Message: st.Message, Source: st.Source,
		Reason: st.Reason, AgentID: optID(st.AgentID), Timestamp: st.Timestamp, UUID: st.UUID,
		Healthy: st.Healthy, ContainerStatus: st.ContainerStatus,
	}
}

// TaskStatus returns the status in Corral's form.
func (s V1TaskStatus) TaskStatus() TaskStatus {
	return TaskStatus{
		TaskID: s.TaskID.Value, AgentID: idValue(s.AgentID), State: s.State, Message: s.Message,
		Source: s.Source, Reason: s.Reason, UUID: s.UUID, Timestamp: s.Timestamp,
		Healthy: s.Healthy, ContainerStatus: s.ContainerStatus,
	}
}

// NewV1ContainerInfo renders a task's container as v1 ContainerInfo.
func NewV1ContainerInfo(c *ContainerInfo) *V1ContainerInfo {
	if c == nil {
		return nil
	}
	v := &V1ContainerInfo{Type: c.Type, NetworkInfos: c.NetworkInfos}
	if v.Type == "" {
		v.Type = "MESOS"
	}
	if c.Image != "" {
		if v.Type == "DOCKER" {
			v.Docker = &V1DockerInfo{Image: c.Image}
		} else {
			v.Mesos = &V1MesosInfo{Image: &V1Image{Type: "DOCKER", Docker: &V1ImageDockerID{Name: c.Image}}}
		}
	}
	return v
}

// ContainerInfo returns the container in Corral's form.
func (c *V1ContainerInfo) ContainerInfo() *ContainerInfo {
	if c == nil {
		return nil
	}
	out := &ContainerInfo{Type: c.Type, NetworkInfos: c.NetworkInfos}
	switch {
	case c.Docker != nil:
		out.Image = c.Docker.Image
	case c.Mesos != nil && c.Mesos.Image != nil && c.Mesos.Image.Docker != nil:
		out.Image = c.Mesos.Image.Docker.Name
	}
	return out
}

// NewV1Task renders a task the master tracks as a v1 Task. The statuses
// are copied; their container statuses are shared and must not change.
func NewV1Task(info TaskInfo, frameworkID string, state TaskState, statuses []TaskStatus) V1Task {
	t := V1Task{
		Name: info.Name, TaskID: V1ID{Value: info.TaskID}, FrameworkID: V1ID{Value: frameworkID},
		AgentID: V1ID{Value: info.AgentID}, State: state, Resources: NewV1Resources(info.Resources),
		Statuses: make([]V1TaskStatus, len(statuses)), Labels: info.Labels, Discovery: info.Discovery,
		Container: NewV1ContainerInfo(info.Container),
	}
	for i, st := range statuses {
		t.Statuses[i] = NewV1TaskStatus(st)
	}
	if n := len(statuses); n > 0 {
		t.StatusUpdateState = statuses[n-1].State
	}
	return t
}

// StateTask returns the task as /master/state lists it.
func (t V1Task) StateTask() StateTask {
	st := StateTask{
		ID: t.TaskID.Value, Name: t.Name, FrameworkID: t.FrameworkID.Value,
		ExecutorID: idValue(t.ExecutorID), SlaveID: t.AgentID.Value, State: t.State,
		Resources: V1ResourcesStateJSON(t.Resources), Statuses: make([]TaskStatus, len(t.Statuses)),
		Discovery: t.Discovery, Container: t.Container.ContainerInfo(),
	}
	for i, s := range t.Statuses {
		st.Statuses[i] = s.TaskStatus()
	}
	if t.Labels != nil {
		st.Labels = t.Labels.Labels
	}
	return st
}

// NewV1FrameworkInfo renders a framework's info as v1 FrameworkInfo.
func NewV1FrameworkInfo(fi FrameworkInfo) V1FrameworkInfo {
	return V1FrameworkInfo{
		User: fi.User, Name: fi.Name, ID: optID(fi.ID), FailoverTimeout: fi.FailoverTimeout,
		Checkpoint: fi.Checkpoint, Role: fi.Role, Hostname: fi.Hostname, Principal: fi.Principal,
		WebuiURL: fi.WebuiURL,
	}
}

// StateFramework returns the framework as /master/state lists it, without
// its tasks and offers; the PID is not part of the v1 API.
func (f OperatorFramework) StateFramework() StateFramework {
	fi := f.FrameworkInfo
	used := V1ResourcesStateJSON(f.AllocatedResources)
	return StateFramework{
		ID: idValue(fi.ID), Name: fi.Name, Hostname: fi.Hostname, User: fi.User, Role: fi.Role,
		Principal: fi.Principal, WebuiURL: fi.WebuiURL, Active: f.Active, Connected: f.Connected,
		Recovered: f.Recovered, Checkpoint: fi.Checkpoint, FailoverTimeout: fi.FailoverTimeout,
		RegisteredTime: f.RegisteredTime.Seconds(), UsedResources: used,
		OfferedResources: V1ResourcesStateJSON(f.OfferedResources),
		Resources:        V1ResourcesStateJSON(append(append([]V1Resource(nil), f.AllocatedResources...), f.OfferedResources...)),
		Tasks:            []StateTask{}, UnreachableTasks: []StateTask{}, CompletedTasks: []StateTask{},
		Offers: []StateOffer{}, Executors: []any{},
	}
}

// StateAgent returns the agent as /master/state lists it.
func (a OperatorAgent) StateAgent() StateAgent {
	total := a.TotalResources
	if total == nil {
		total = a.AgentInfo.Resources
	}
	return StateAgent{
		ID: idValue(a.AgentInfo.ID), PID: a.PID, Hostname: a.AgentInfo.Hostname, Port: a.AgentInfo.Port,
		RegisteredTime: a.RegisteredTime.Seconds(), ReregisteredTime: a.ReregisteredTime.Seconds(),
		Resources: V1ResourcesStateJSON(total), UsedResources: V1ResourcesStateJSON(a.AllocatedResources),
		OfferedResources: V1ResourcesStateJSON(a.OfferedResources), UnreservedResources: V1ResourcesStateJSON(total),
		ReservedResources: map[string]any{}, Attributes: V1AttributesStateJSON(a.AgentInfo.Attributes),
		Active: a.Active, Version: a.Version,
	}
}
