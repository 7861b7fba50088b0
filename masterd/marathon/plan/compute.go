package plan

import (
	"slices"
	"sort"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// Plan is what a deployment does: its steps, run one after another (the
// actions of a step run together), and the apps they touch.
type Plan struct {
	Steps        []marathon.DeploymentStep
	AffectedApps []string // every app an action names, sorted
}

// Compute returns the plan that takes the apps of original to those of
// target, as Marathon's DeploymentPlan does:
//
//  1. StopApplication for every app only in original, one step per depth
//     in original's graph, deepest first, so that an app stops before the
//     apps it depends on. Depths count every app of original, so removed
//     apps share a step only when their depths are equal. (Marathon stops
//     them all in one step.)
//  2. StartApplication for every app only in target, all in one step; the
//     app is created with no instances.
//  3. In dependency order over target's graph, one step per depth (the
//     longest chain of dependencies below an app, counted over all of
//     target's apps, changed or not): ScaleApplication for every new app
//     (to its instances) and every app whose instances alone changed,
//     RestartApplication for every app that NeedsRestart.
//
// Apps are sorted by ID within a step; empty steps are left out, so no
// change gives no steps. Edges that close a dependency cycle are ignored;
// reject cyclic roots with CheckCycles first.
func Compute(original, target model.Root) Plan {
	var removed, added, changed []string
	for id := range original.Apps {
		if _, ok := target.Apps[id]; !ok {
			removed = append(removed, id)
		}
	}
	action := map[string]string{}
	for id, t := range target.Apps {
		o, ok := original.Apps[id]
		if !ok {
			added = append(added, id)
			action[id] = marathon.ActionScaleApplication
			continue
		}
		if a := Classify(o, t); a != "" {
			changed = append(changed, id)
			action[id] = a
		}
	}
	sort.Strings(added)

	var p Plan
	if len(removed) > 0 {
		og, _ := buildGraph(original)
		stops := levels(removed, og.depths())
		slices.Reverse(stops)
		for _, ids := range stops {
			p.add(ids, func(string) string { return marathon.ActionStopApplication })
		}
	}
	p.add(added, func(string) string { return marathon.ActionStartApplication })
	if len(added)+len(changed) > 0 {
		tg, _ := buildGraph(target)
		for _, ids := range levels(append(slices.Clone(added), changed...), tg.depths()) {
			p.add(ids, func(id string) string { return action[id] })
		}
	}

	p.AffectedApps = append(slices.Clone(removed), added...)
	p.AffectedApps = append(p.AffectedApps, changed...)
	sort.Strings(p.AffectedApps)
	return p
}

// add appends a step of one action per app of ids (sorted), unless ids is
// empty.
func (p *Plan) add(ids []string, action func(id string) string) {
	if len(ids) == 0 {
		return
	}
	step := marathon.DeploymentStep{Actions: make([]marathon.DeploymentAction, len(ids))}
	for i, id := range ids {
		step.Actions[i] = marathon.DeploymentAction{Action: action(id), App: id}
	}
	p.Steps = append(p.Steps, step)
}
