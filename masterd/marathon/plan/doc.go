// Package plan is Corral's deployment planner: pure functions, in the
// manner of Marathon 1.x, that turn a change of the root group into
// deployment steps and drive the executor's decisions while a step runs.
//
//   - Compute diffs two roots into ordered steps (DeploymentPlan).
//   - CheckDependencies and CheckCycles validate the dependency graph.
//   - Classify, NeedsRestart and ScaleOnly compare two definitions of an app.
//   - Rolling is the rolling-restart arithmetic of TaskReplaceActor.
//   - PickVictims chooses the instances a scale-down kills
//     (ScalingProposition).
//
// Nothing here performs I/O, keeps state between calls or starts goroutines.
package plan
