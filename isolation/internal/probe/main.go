// Command probe is a static test program for isolation's image-rootfs
// tests: it reports what it sees of its container, one key=value a line.
package main

import (
	"fmt"
	"os"
)

func main() {
	host, _ := os.Hostname()
	cwd, _ := os.Getwd()
	fmt.Printf("pid=%d\nuid=%d\ngid=%d\nhostname=%s\ncwd=%s\nfoo=%s\n",
		os.Getpid(), os.Getuid(), os.Getgid(), host, cwd, os.Getenv("FOO"))
	if err := os.WriteFile("/written", []byte("x"), 0o644); err != nil {
		fmt.Println("rootfs=ro")
	} else {
		fmt.Println("rootfs=rw")
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil && len(b) > 0 {
		fmt.Println("resolv=yes")
	}
}
