// Command testapp is the tiny HTTP server baked into the test bed's images
// (127.0.0.1:5000/testapp:v1..v3). It is built statically and shipped in a
// FROM scratch image, so it must not depend on anything but the Go stdlib.
//
// Behaviour, all driven by environment variables:
//
//	PORT=8080        listen port (all interfaces)
//	VERSION=...      overrides the version baked in with -ldflags "-X main.version=v1"
//	CRASH_AFTER=N    exit 1 after N seconds (0 = immediately, before listening)
//	CRASH_AFTER_REQUESTS=N  after answering N requests to "/", stop taking
//	                 new ones, finish those in flight and exit 1: a crash
//	                 that comes with traffic (after a proxy switched to it),
//	                 which loses no request it accepted
//	UNHEALTHY=1      /healthz answers 500 instead of 200
//
// Endpoints: "/" and "/version" answer the version followed by a newline;
// "/healthz" answers "ok" (or 500 "unhealthy"); "/env/NAME" answers the value
// of environment variable NAME (404 if unset).
//
// "testapp -hook" is a one-off job for hoist's hooks: it appends
// "$HOOK_NAME $VERSION" to $HOOK_FILE (a bind-mounted host folder), prints
// a line, and exits $HOOK_EXIT (default 0), so tests see on the host
// which hooks ran, in which order, and can make one fail.
//
// "testapp -healthcheck" GETs http://127.0.0.1:$PORT/healthz and exits 0 on 200,
// 1 otherwise, so a compose healthcheck can be
// `test: ["CMD", "/app", "-healthcheck"]` in an image without a shell.
//
// SIGTERM/SIGINT shut the server down at once (it runs as PID 1, where the
// default action of SIGTERM would be to ignore it and make `docker stop` wait).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

var version = "dev"

func main() {
	healthcheck := flag.Bool("healthcheck", false, "probe http://127.0.0.1:$PORT/healthz and exit 0 (healthy) or 1")
	hook := flag.Bool("hook", false, "append $HOOK_NAME $VERSION to $HOOK_FILE and exit $HOOK_EXIT")
	flag.Parse()

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if v := os.Getenv("VERSION"); v != "" {
		version = v
	}
	if *healthcheck {
		os.Exit(probe(port))
	}
	if *hook {
		os.Exit(runHook())
	}

	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetOutput(os.Stdout)
	log.SetPrefix("testapp " + version + ": ")

	if s := os.Getenv("CRASH_AFTER"); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 0 {
			log.Fatalf("bad CRASH_AFTER=%q", s)
		}
		if n == 0 {
			log.Print("CRASH_AFTER=0: crashing now")
			os.Exit(1)
		}
		time.AfterFunc(time.Duration(n*float64(time.Second)), func() {
			log.Printf("CRASH_AFTER=%s: crashing now", s)
			os.Exit(1)
		})
	}

	crashAt := int64(-1)
	if s := os.Getenv("CRASH_AFTER_REQUESTS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			log.Fatalf("bad CRASH_AFTER_REQUESTS=%q", s)
		}
		crashAt = n
	}
	var served atomic.Int64
	crash := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, version)
		if served.Add(1) == crashAt {
			close(crash)
		}
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if os.Getenv("UNHEALTHY") == "1" {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintln(w, "unhealthy")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/env/", func(w http.ResponseWriter, r *http.Request) {
		v, ok := os.LookupEnv(strings.TrimPrefix(r.URL.Path, "/env/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, v)
	})

	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Print("signal received, shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		<-crash
		log.Printf("CRASH_AFTER_REQUESTS=%d: crashing now, after the requests in flight", crashAt)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		os.Exit(1)
	}()

	log.Printf("listening on :%s", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func probe(port string) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

func runHook() int {
	name, file := os.Getenv("HOOK_NAME"), os.Getenv("HOOK_FILE")
	code, _ := strconv.Atoi(os.Getenv("HOOK_EXIT"))
	if file != "" {
		f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hook %s: %v\n", name, err)
			return 2
		}
		fmt.Fprintf(f, "%s %s\n", name, version)
		f.Close()
	}
	fmt.Printf("hook %s of %s ran, exiting %d\n", name, version, code)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "hook %s failed on purpose (HOOK_EXIT=%d)\n", name, code)
	}
	return code
}
