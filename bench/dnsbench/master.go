package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"corral/mesos"
)

// apps is the number of one-task Marathon apps, as mkzone.py writes them.
const apps = 200

// appIP is app i's task address, as mkzone.py numbers them.
func appIP(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i/250, i%250, 1+i%200)
}

// appPort is app i's host port, as mkzone.py numbers them.
func appPort(i int) int { return 31000 + i }

// masterState is a /master/state with one agent and the framework
// "marathon" running one task for each of n apps: task appN has the address appIP(N)
// (in its TASK_RUNNING status's network infos, the resolver's first IP
// source) and the host port appPort(N). The resolver then serves
// appN.marathon.mesos A appIP(N) and _appN._tcp.marathon.mesos SRV
// …:appPort(N), the records mkzone.py writes for Knot (besides the other
// names Mesos-DNS gives a task).
func masterState(masterAddr string, n int) mesos.MasterState {
	const agentID = "20261122-000000-16777343-5050-1-S0"
	now := float64(time.Now().UnixNano()) / 1e9
	fw := mesos.StateFramework{
		ID: "20261122-000000-16777343-5050-1-0000", Name: "marathon", PID: "scheduler-1@127.0.0.1:8080",
		Hostname: "127.0.0.1", User: "root", Role: "*", Active: true, Connected: true,
		Tasks: []mesos.StateTask{}, UnreachableTasks: []mesos.StateTask{}, CompletedTasks: []mesos.StateTask{},
		Offers: []mesos.StateOffer{}, Executors: []any{},
	}
	for i := range n {
		name := "app" + strconv.Itoa(i)
		id := fmt.Sprintf("%s.%08x-0000-4000-8000-%012x", name, i, i)
		port := strconv.Itoa(appPort(i))
		fw.Tasks = append(fw.Tasks, mesos.StateTask{
			ID: id, Name: name, FrameworkID: fw.ID, ExecutorID: "", SlaveID: agentID, State: mesos.TaskRunning,
			Resources: map[string]any{"cpus": 0.1, "mem": 32.0, "disk": 0.0, "ports": "[" + port + "-" + port + "]"},
			Statuses: []mesos.TaskStatus{{
				TaskID: id, AgentID: agentID, State: mesos.TaskRunning, Source: mesos.SourceExecutor, Timestamp: now,
				ContainerStatus: &mesos.ContainerStatus{NetworkInfos: []mesos.NetworkInfo{{
					IPAddresses: []mesos.IPAddress{{Protocol: "IPv4", IPAddress: appIP(i)}},
				}}},
			}},
		})
	}
	return mesos.MasterState{
		Version: "1.11.0", ID: "master-1", PID: "master@" + masterAddr, Hostname: "127.0.0.1",
		StartTime: now, ElectedTime: now, Leader: "master@" + masterAddr, ActivatedSlaves: 1,
		Flags: map[string]string{},
		Slaves: []mesos.StateAgent{{
			ID: agentID, PID: "slave(1)@127.0.0.1:5051", Hostname: "127.0.0.1", Port: 5051,
			RegisteredTime: now, Active: true, Version: "1.11.0",
			Resources: map[string]any{"cpus": 8.0, "mem": 8192.0, "disk": 4000.0, "ports": "[31000-32000]"},
		}},
		Frameworks:          []mesos.StateFramework{fw},
		CompletedFrameworks: []mesos.StateFramework{},
		OrphanTasks:         []mesos.StateTask{},
	}
}

// fakeMaster serves /master/state on ln. Everything else, POST /api/v1
// (SUBSCRIBE) and /master/redirect included, answers 404: the resolver
// takes it for the leader and polls /master/state.
func fakeMaster(ln net.Listener) *http.Server {
	body, _ := json.Marshal(masterState(ln.Addr().String(), apps))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /master/state", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv
}
