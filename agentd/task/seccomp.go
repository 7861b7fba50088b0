package task

import (
	"fmt"

	"corral/mesos"
)

// seccompUnconfined reports whether the task's labels opt it out of
// seccomp (mesos.LabelSeccomp).
func seccompUnconfined(info mesos.TaskInfo) (bool, error) {
	if info.Labels == nil {
		return false, nil
	}
	for _, l := range info.Labels.Labels {
		if l.Key != mesos.LabelSeccomp {
			continue
		}
		switch l.Value {
		case mesos.SeccompUnconfined:
			return true, nil
		case mesos.SeccompDefault:
			return false, nil
		default:
			return false, fmt.Errorf("invalid label %s=%q, must be %s or %s", mesos.LabelSeccomp, l.Value, mesos.SeccompUnconfined, mesos.SeccompDefault)
		}
	}
	return false, nil
}
