package agent

import (
	"sort"

	"corral/agentd/task"
	"corral/mesos"
)

// frameworks lists the agent's tasks as the Mesos agent's /state does:
// by framework, each task its own executor whose directory is the task's
// sandbox. Running tasks are executors; ended ones, and those forgotten
// whose sandbox remains, completed executors. A framework with no
// running task is a completed framework.
func (a *Agent) frameworks() (live, completed []mesos.AgentStateFramework) {
	running, done := a.tasks.Sandboxes()
	byID := map[string]*mesos.AgentStateFramework{}
	fw := func(id string) *mesos.AgentStateFramework {
		f := byID[id]
		if f == nil {
			f = &mesos.AgentStateFramework{ID: id, Executors: []mesos.AgentStateExecutor{}, CompletedExecutors: []mesos.AgentStateExecutor{}}
			byID[id] = f
		}
		return f
	}
	for _, s := range running {
		var statuses []mesos.TaskStatus
		if st, ok := a.status.Latest(s.FrameworkID, s.Info.TaskID); ok {
			statuses = []mesos.TaskStatus{st}
		}
		e := a.executor(s, statuses)
		f := fw(s.FrameworkID)
		if s.State.Terminal() {
			e.CompletedTasks, e.Tasks = e.Tasks, e.CompletedTasks
			f.CompletedExecutors = append(f.CompletedExecutors, e)
		} else {
			f.Executors = append(f.Executors, e)
		}
	}
	for _, s := range done {
		e := a.executor(s, nil)
		e.CompletedTasks, e.Tasks = e.Tasks, e.CompletedTasks
		f := fw(s.FrameworkID)
		f.CompletedExecutors = append(f.CompletedExecutors, e)
	}
	live, completed = []mesos.AgentStateFramework{}, []mesos.AgentStateFramework{}
	for _, f := range byID {
		if len(f.Executors) > 0 {
			live = append(live, *f)
		} else {
			completed = append(completed, *f)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	sort.Slice(completed, func(i, j int) bool { return completed[i].ID < completed[j].ID })
	return live, completed
}

// executor is a command task as its own executor, with the task listed
// in tasks.
func (a *Agent) executor(s task.Sandbox, statuses []mesos.TaskStatus) mesos.AgentStateExecutor {
	info := s.Info
	if info.AgentID == "" {
		info.AgentID = a.AgentID()
	}
	return mesos.AgentStateExecutor{
		ID:             info.TaskID,
		Name:           "Command Executor (Task: " + info.TaskID + ")",
		Source:         info.TaskID,
		Container:      s.Container,
		Directory:      s.Directory,
		Resources:      info.Resources.StateJSON(),
		Tasks:          []mesos.StateTask{mesos.NewStateTask(info, s.FrameworkID, s.State, statuses)},
		QueuedTasks:    []mesos.StateTask{},
		CompletedTasks: []mesos.StateTask{},
	}
}
