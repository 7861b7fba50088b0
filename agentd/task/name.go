package task

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
)

// maxNameLen bounds a task's name well below NAME_MAX (255), the limit of
// its directory and cgroup names.
const maxNameLen = 200

var (
	// plainFramework and plainTask match the IDs that name a task as
	// "<framework>_<task>": the framework ID has no "_" (so the name splits
	// at its first "_") and no "--" (which marks hashed names).
	plainFramework = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	plainTask      = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// name names a task's directory and container (its cgroups, libcontainer
// state and network records): distinct for every framework and task ID,
// at most maxNameLen bytes of [A-Za-z0-9_.-] that start with a letter or
// digit (a CNI container ID). It is "<framework>_<task>" when that cannot
// be mistaken for another task's, as for the IDs masterd and Marathon
// issue; otherwise "h--<hash of both IDs>_<task ID, escaped and cut>",
// which the first form never takes, since its text before the first "_" is
// a framework ID without "--".
func name(frameworkID, taskID string) string {
	if plainFramework.MatchString(frameworkID) && !strings.Contains(frameworkID, "--") &&
		plainTask.MatchString(taskID) && len(frameworkID)+1+len(taskID) <= maxNameLen {
		return frameworkID + "_" + taskID
	}
	return hashedName(frameworkID, taskID)
}

// hashedName is name's second form.
func hashedName(frameworkID, taskID string) string {
	sum := sha256.Sum256([]byte(frameworkID + "\x00" + taskID))
	n := "h--" + hex.EncodeToString(sum[:16]) + "_" + sanitize(taskID)
	return n[:min(len(n), maxNameLen)]
}

// legacyContainerID is the container ID agentd gave a task before it
// recorded one in task.json; recovered tasks of that agentd keep it.
func legacyContainerID(frameworkID, taskID string) string {
	return sanitize(url.PathEscape(frameworkID) + "_" + url.PathEscape(taskID))
}

// sanitize replaces the bytes outside [A-Za-z0-9_.-] with "_".
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
