package task

import (
	"fmt"

	"corral/mesos"
)

// SeccompLabel is the task label (a Marathon app label) that chooses the
// task container's seccomp filter: "unconfined" runs it without one, as
// Docker's --security-opt seccomp=unconfined does; "default" or no label
// applies the agent's profile (--seccomp-profile, Docker's by default).
const SeccompLabel = "CORRAL_SECCOMP"

// seccompUnconfined reports whether the task's labels opt it out of seccomp.
func seccompUnconfined(info mesos.TaskInfo) (bool, error) {
	if info.Labels == nil {
		return false, nil
	}
	for _, l := range info.Labels.Labels {
		if l.Key != SeccompLabel {
			continue
		}
		switch l.Value {
		case "unconfined":
			return true, nil
		case "default":
			return false, nil
		default:
			return false, fmt.Errorf("invalid label %s=%q, must be unconfined or default", SeccompLabel, l.Value)
		}
	}
	return false, nil
}
