#!/usr/bin/env bash
# Starts a single-node Corral cluster on this machine: masterd (embedded
# etcd, Marathon API) and agentd, and deploys an example app through the
# Marathon API. Ctrl-C removes the app, stops both daemons and kills the
# tasks they started.
set -euo pipefail
RUN_DIR=${RUN_DIR:-$PWD/.run}
BIN=${BIN:-bin}
mkdir -p "$RUN_DIR"
isolation=linux
if [ "$(id -u)" != 0 ]; then
	isolation=posix
	echo "not root: agentd runs tasks with --isolation=posix (plain processes, no containers)"
fi

pids=()
cleanup() {
	trap - INT TERM EXIT
	curl -fsS -X DELETE -o /dev/null "http://127.0.0.1:8080/v2/apps/hello?force=true" 2>/dev/null || true
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	# The tasks' shims outlive agentd by design; a local cluster ends with them.
	pkill -TERM -f " shim $RUN_DIR/agent" 2>/dev/null || true
	echo "stopped; state is kept in $RUN_DIR (make clean removes it)"
}
trap cleanup INT TERM EXIT

# The agents' shared secret: masterd refuses agent calls without it.
SECRET="$RUN_DIR/agent-secret"
if [ ! -s "$SECRET" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET")
fi

"$BIN/masterd" --work-dir "$RUN_DIR/master" --listen 127.0.0.1:5050 --marathon-listen 127.0.0.1:8080 \
	--hostname 127.0.0.1 --agent-secret-file "$SECRET" >"$RUN_DIR/masterd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	curl -fsS -o /dev/null http://127.0.0.1:5050/master/state 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null http://127.0.0.1:5050/master/state || { echo "masterd did not start; see $RUN_DIR/masterd.log"; exit 1; }

"$BIN/agentd" --master 127.0.0.1:5050 --work-dir "$RUN_DIR/agent" --listen 127.0.0.1:5051 \
	--hostname 127.0.0.1 --advertise-ip 127.0.0.1 --isolation "$isolation" --secret-file "$SECRET" >"$RUN_DIR/agentd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	curl -fsS http://127.0.0.1:5050/master/state 2>/dev/null | grep -q '"active":true' && break
	sleep 0.1
done

# routerd: the app's service ports on localhost, the HTTP edge, the resolver.
EDGE=${EDGE:-127.0.0.1:8000}
DNS=${DNS:-127.0.0.1:8053}
"$BIN/routerd" --marathon http://127.0.0.1:8080 --masters 127.0.0.1:5050 --http-listen "$EDGE" --https-listen "" \
	--dns-listen "$DNS" --dns-http-listen 127.0.0.1:8123 --admin-listen 127.0.0.1:9090 --state-dir "$RUN_DIR/routerd" >"$RUN_DIR/routerd.log" 2>&1 &
pids+=($!)

# The example app: two instances of busybox's httpd, health-checked, also
# on the edge as hello.localhost.
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/json' http://127.0.0.1:8080/v2/apps/hello -d '{
  "id": "/hello",
  "cmd": "echo \"hello from $MESOS_TASK_ID\" > index.html && exec busybox httpd -f -p $PORT0 -h .",
  "instances": 2, "cpus": 0.1, "mem": 32,
  "portDefinitions": [{"port": 0, "name": "http"}],
  "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 2}],
  "labels": {"HAPROXY_0_VHOST": "hello.localhost"}
}' || { echo "deploying the example app failed; see $RUN_DIR/masterd.log"; exit 1; }
endpoints=""
for _ in $(seq 1 300); do
	endpoints=$(curl -fsS -H 'Accept: text/plain' http://127.0.0.1:8080/v2/apps/hello/tasks 2>/dev/null | cut -f3- | tr '\t' ' ' | xargs)
	n=$(curl -fsS http://127.0.0.1:8080/v2/apps/hello 2>/dev/null | grep -o '"tasksHealthy":[0-9]*' | cut -d: -f2)
	[ "${n:-0}" = 2 ] && break
	sleep 0.1
done

service_port=$(curl -fsS http://127.0.0.1:8080/v2/apps/hello 2>/dev/null | grep -o '"servicePort":[0-9]*\|"ports":\[[0-9]*' | head -1 | grep -o '[0-9]*$')
for _ in $(seq 1 50); do
	curl -fsS -o /dev/null "http://127.0.0.1:$service_port/" 2>/dev/null && break
	sleep 0.1
done

cat <<MSG
Corral is running (logs in $RUN_DIR):
  masterd   Mesos API     http://127.0.0.1:5050/master/state
            Marathon API  http://127.0.0.1:8080/v2/apps
  agentd    registered    http://127.0.0.1:5051/state   (isolation: $isolation; agent secret in $SECRET)
  example   app /hello    tasks at: ${endpoints:-(still starting: curl http://127.0.0.1:8080/v2/apps/hello/tasks)}
            try:          curl http://${endpoints%% *}/
  routerd   service port  curl localhost:$service_port     (any node, any task of /hello)
            HTTP edge     curl -H 'Host: hello.localhost' http://$EDGE/
            DNS           dig @${DNS%:*} -p ${DNS##*:} hello.marathon.mesos A +short
                          dig @${DNS%:*} -p ${DNS##*:} _hello._tcp.marathon.mesos SRV
            admin         curl 127.0.0.1:9090/_router/routes    (health: /_router/health, /metrics)
Ctrl-C removes /hello and stops everything.
MSG
wait -n "${pids[@]}"
