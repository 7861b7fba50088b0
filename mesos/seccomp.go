package mesos

// LabelSeccomp is the task label (a Marathon app label) that chooses the
// seccomp filter of the task's container: SeccompUnconfined runs it
// without one, as Docker's --security-opt seccomp=unconfined does;
// SeccompDefault, like no label, applies the agent's profile (Docker's
// default unless agentd's --seccomp-profile says otherwise). Marathon
// refuses any other value with a 422, and an agent fails such a task with
// TASK_ERROR.
const (
	LabelSeccomp      = "CORRAL_SECCOMP"
	SeccompUnconfined = "unconfined"
	SeccompDefault    = "default"
)

// SeccompValues are the values LabelSeccomp may take.
var SeccompValues = []string{SeccompUnconfined, SeccompDefault}
