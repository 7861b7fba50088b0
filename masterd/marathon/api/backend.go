package api

import (
	"context"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// Backend is what the v2 API needs of the leading master's Marathon
// framework. Every error it returns is either a *marathon.Error, written as
// is with its status, or an internal failure, written as 500 (503 when the
// master lost leadership meanwhile).
type Backend interface {
	// View returns the current snapshot; cheap, never nil while leading.
	View() *model.View

	// Versions lists an app's stored versions, newest first; a
	// *marathon.Error 404 when the app is unknown.
	Versions(ctx context.Context, appID string) ([]string, error)
	// Version returns one stored version of an app.
	Version(ctx context.Context, appID, version string) (marathon.App, bool, error)

	// Deploy applies change to a copy of the current root and starts a
	// deployment of the difference. change sees apps already normalised
	// (defaults applied) and returns a *marathon.Error to refuse the change
	// (nothing happens then). Deploy assigns service ports, versions and
	// versionInfo, validates the whole new root (422 on conflicts, 409 when
	// an affected app is locked by a deployment unless opts.Force) and
	// returns once the deployment is stored. A change that changes nothing
	// returns a result with an empty DeploymentID and the current version.
	Deploy(ctx context.Context, change func(*model.Root) error, opts DeployOptions) (marathon.DeploymentResult, error)

	// KillTasks kills the named tasks (unknown IDs are skipped). With
	// Scale the apps' instances drop by the number killed, through a
	// deployment whose result is returned; with Wipe the instances are
	// forgotten rather than relaunched in place.
	KillTasks(ctx context.Context, taskIDs []string, opts KillOptions) ([]marathon.Task, *marathon.DeploymentResult, error)

	// CancelDeployment stops deployment id. Without force it starts a
	// rollback deployment to the root before id and returns it; with force
	// it only stops id and returns nil. Unknown id: *marathon.Error 404.
	CancelDeployment(ctx context.Context, id string, force bool) (*marathon.DeploymentResult, error)

	// ResetDelay clears an app's launch backoff; false when the app has
	// no delay (or is unknown).
	ResetDelay(appID string) bool

	// FrameworkID is the framework's Mesos ID, for /v2/info.
	FrameworkID() string
}

// DeployOptions tune Deploy.
type DeployOptions struct {
	Force bool // cancel deployments that lock affected apps instead of 409
	// Restart names apps to restart even if their definition is unchanged
	// (POST /v2/apps/{id}/restart): they get a new config version.
	Restart []string
	// Source describes the request for api_post_event and logs, e.g.
	// "POST /v2/apps"; the event carries the affected app.
	Source string
	// ClientIP and URI go into api_post_event.
	ClientIP, URI string
}

// KillOptions tune KillTasks.
type KillOptions struct {
	Scale bool
	Wipe  bool
	Force bool // with Scale: override a deployment lock
}

// Leadership is what the API needs of the election.
type Leadership interface {
	// Leader returns the leader's Marathon API address (host:port) and
	// whether a leader is elected.
	Leader() (string, bool)
	// Backend returns the framework while this master leads, else nil.
	Backend() Backend
	// Abdicate makes this master give up leadership (DELETE /v2/leader).
	Abdicate() error
}
