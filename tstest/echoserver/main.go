// Command echoserver is the backend of routerd's tests and benchmarks: an
// HTTP server with keep-alive and the kernel's full accept backlog (busybox
// httpd forks per request and listens with a backlog of 9, so a load test
// would measure it, not the router). It answers every request with -body
// (default: $MESOS_TASK_ID) and, like a well-behaved service, keeps serving
// for -drain after SIGTERM before it shuts down gracefully.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := flag.String("port", os.Getenv("PORT0"), "port to listen on (default $PORT0)")
	body := flag.String("body", os.Getenv("MESOS_TASK_ID"), "what every answer says (default $MESOS_TASK_ID)")
	drain := flag.Duration("drain", time.Second, "how long to keep serving after SIGTERM")
	flag.Parse()
	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	answer := []byte(*body + "\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(answer)
	}), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		time.Sleep(*drain)
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
}
