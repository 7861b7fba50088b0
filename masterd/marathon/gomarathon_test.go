package marathon_test

import (
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"corral/masterd/marathon/marathontest"
)

// TestGoMarathonClient drives the API with go-marathon at the version
// Traefik pins: create, wait on the deployment, list tasks, scale, kill,
// delete, and receive events through its SSE listener.
func TestGoMarathonClient(t *testing.T) {
	c := marathontest.Start(t, marathontest.Options{})
	cfg := gomarathon.NewDefaultConfig()
	cfg.URL = c.Marathon
	cfg.EventsTransport = gomarathon.EventsTransportSSE
	client, err := gomarathon.NewClient(cfg)
	if err != nil {
		t.Fatalf("go-marathon NewClient: %v", err)
	}
	events, err := client.AddEventsListener(gomarathon.EventIDApplications | gomarathon.EventIDDeploymentSuccess)
	if err != nil {
		t.Fatalf("AddEventsListener: %v", err)
	}
	defer client.RemoveEventsListener(events)
	var statusUpdates, deploymentSuccesses, terminated int
	drain := func() {
		for {
			select {
			case e := <-events:
				switch ev := e.Event.(type) {
				case *gomarathon.EventStatusUpdate:
					if ev.AppID == "/compat" && ev.Host == "127.0.0.1" && len(ev.Ports) == 1 {
						statusUpdates++
					}
				case *gomarathon.EventDeploymentSuccess:
					deploymentSuccesses++
				case *gomarathon.EventAppTerminated:
					if ev.AppID == "/compat" {
						terminated++
					}
				}
			default:
				return
			}
		}
	}

	zero := 0
	app := new(gomarathon.Application)
	app.Name("/compat").Command("exec busybox httpd -f -p $PORT0").CPU(0.1).Memory(32).Count(2)
	app.EmptyPortDefinitions().AddPortDefinition(gomarathon.PortDefinition{Port: &zero, Name: "http"})
	created, err := client.CreateApplication(app)
	if err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	ids := created.DeploymentIDs()
	if len(ids) != 1 {
		t.Fatalf("created app lists deployments %v, want one", created.Deployments)
	}
	if err := client.WaitOnDeployment(ids[0].DeploymentID, 60*time.Second); err != nil {
		t.Fatalf("WaitOnDeployment: %v", err)
	}
	if err := client.WaitOnApplication("/compat", 30*time.Second); err != nil {
		t.Fatalf("WaitOnApplication: %v", err)
	}
	tasks, err := client.Tasks("/compat")
	if err != nil {
		t.Fatalf("Tasks: %v", err)
	}
	if len(tasks.Tasks) != 2 {
		t.Fatalf("Tasks: %d tasks, want 2", len(tasks.Tasks))
	}
	for _, task := range tasks.Tasks {
		if task.State != "TASK_RUNNING" || len(task.Ports) != 1 || task.Ports[0] < 31000 || task.Ports[0] > 32000 || task.SlaveID == "" {
			t.Errorf("task %+v: want TASK_RUNNING on one agent port in [31000, 32000]", task)
		}
	}
	if ok, err := client.ApplicationOK("/compat"); err != nil || !ok {
		t.Errorf("ApplicationOK = %v, %v", ok, err)
	}

	dep, err := client.ScaleApplicationInstances("/compat", 3, false)
	if err != nil {
		t.Fatalf("ScaleApplicationInstances: %v", err)
	}
	if err := client.WaitOnDeployment(dep.DeploymentID, 60*time.Second); err != nil {
		t.Fatalf("WaitOnDeployment after scaling: %v", err)
	}
	if tasks, err = client.Tasks("/compat"); err != nil || len(tasks.Tasks) != 3 {
		t.Fatalf("after scaling to 3: %v tasks, err %v", len(tasks.Tasks), err)
	}

	victim := tasks.Tasks[0].ID
	// With scale Marathon answers with the deployment, not the task.
	if _, err := client.KillTask(victim, &gomarathon.KillTaskOpts{Scale: true}); err != nil {
		t.Fatalf("KillTask: %v", err)
	}
	c.WaitFor(30*time.Second, "2 tasks after a kill with scale", func() bool {
		tasks, err := client.Tasks("/compat")
		if err != nil || len(tasks.Tasks) != 2 {
			return false
		}
		for _, task := range tasks.Tasks {
			if task.ID == victim {
				return false
			}
		}
		return true
	})

	if _, err := client.DeleteApplication("/compat", false); err != nil {
		t.Fatalf("DeleteApplication: %v", err)
	}
	c.WaitFor(30*time.Second, "the events of the run through the SSE listener", func() bool {
		drain()
		return statusUpdates >= 3 && deploymentSuccesses >= 2 && terminated == 1
	})
	if ok, err := client.ApplicationOK("/compat"); err == nil || ok {
		t.Errorf("ApplicationOK of a deleted app = %v, %v; want a not-found error", ok, err)
	}
}
