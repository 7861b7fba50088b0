package plan

import (
	"encoding/json"
	"reflect"
	"slices"

	"corral/marathon"
)

// Classify returns the action that takes an app from original to target,
// both definitions of the same app: ActionRestartApplication when
// NeedsRestart, ActionScaleApplication when only the instances differ, ""
// when nothing does.
func Classify(original, target marathon.App) string {
	switch {
	case NeedsRestart(original, target):
		return marathon.ActionRestartApplication
	case original.Instances != target.Instances:
		return marathon.ActionScaleApplication
	}
	return ""
}

// NeedsRestart reports whether target's instances must replace original's:
// the definitions differ in anything but instances, version and
// versionInfo.lastScalingAt (Marathon's isUpgrade), or
// versionInfo.lastConfigChangeAt moved, which is how a forced restart
// (POST /v2/apps/{id}/restart) shows. A missing versionInfo counts as an
// empty lastConfigChangeAt.
func NeedsRestart(original, target marathon.App) bool {
	return lastConfigChange(original) != lastConfigChange(target) || !sameConfig(original, target)
}

// ScaleOnly reports whether a change from original to target needs a
// ScaleApplication and nothing else: the instances differ and nothing
// that NeedsRestart looks at does.
func ScaleOnly(original, target marathon.App) bool {
	return Classify(original, target) == marathon.ActionScaleApplication
}

func lastConfigChange(a marathon.App) string {
	if a.VersionInfo == nil {
		return ""
	}
	return a.VersionInfo.LastConfigChangeAt
}

// sameConfig compares two definitions with instances and versions
// cleared. It compares their JSON, which is what clients see: nil and
// empty collections and map order do not count. Dependencies, constraints
// and accepted resource roles are sets in Marathon, so their order does
// not count either, nor does writing a dependency relative or absolute.
func sameConfig(a, b marathon.App) bool {
	a, b = configOnly(a), configOnly(b)
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return reflect.DeepEqual(a, b)
	}
	return string(ja) == string(jb)
}

// configOnly returns a with what is not configuration cleared and its
// sets in canonical order. The slices it sorts are copies.
func configOnly(a marathon.App) marathon.App {
	a.Instances = 0
	a.Version = ""
	a.VersionInfo = nil
	if a.Dependencies != nil {
		deps := make([]string, len(a.Dependencies))
		for i, d := range a.Dependencies {
			deps[i] = d
			if abs, err := marathon.CanonicalID(d, marathon.ParentID(a.ID)); err == nil {
				deps[i] = abs
			}
		}
		slices.Sort(deps)
		a.Dependencies = slices.Compact(deps)
	}
	if a.Constraints != nil {
		cs := slices.Clone(a.Constraints)
		slices.SortFunc(cs, slices.Compare[[]string])
		a.Constraints = slices.CompactFunc(cs, slices.Equal[[]string])
	}
	if a.AcceptedResourceRoles != nil {
		roles := slices.Clone(a.AcceptedResourceRoles)
		slices.Sort(roles)
		a.AcceptedResourceRoles = slices.Compact(roles)
	}
	return a
}
