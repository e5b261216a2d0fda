package graphfake

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultShutdownTimeout bounds a graceful shutdown whose context has no deadline.
const DefaultShutdownTimeout = 10 * time.Second

// Start serves the emulator on addr (for example "127.0.0.1:0") in the background and
// returns its root URL ("http://127.0.0.1:PORT"; clients call URL+"/v1.0/..." and
// URL+"/beta/...") and a stop function. stop shuts down gracefully, letting in-flight
// requests finish until ctx ends (DefaultShutdownTimeout when ctx has no deadline),
// then cancels the requests still running and closes their connections; it returns
// once the serving goroutines have finished. stop may be called more than once.
func (s *Server) Start(addr string) (url string, stop func(ctx context.Context) error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	inflight := &tracker{}
	inflight.cond.L = &inflight.mu
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.add(1)
			defer inflight.add(-1)
			s.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	var once sync.Once
	var stopErr error
	stop = func(ctx context.Context) error {
		once.Do(func() {
			if _, ok := ctx.Deadline(); !ok {
				var c context.CancelFunc
				ctx, c = context.WithTimeout(ctx, DefaultShutdownTimeout)
				defer c()
			}
			stopErr = hs.Shutdown(ctx)
			cancel() // ends latency waits of requests still running
			if stopErr != nil {
				_ = hs.Close()
			}
			if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) && stopErr == nil {
				stopErr = err
			}
			inflight.wait()
		})
		return stopErr
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// ListenAndServe serves the emulator on addr until ctx ends, then shuts down gracefully
// within DefaultShutdownTimeout. It returns an error when addr cannot be listened on or
// the shutdown was not clean, else nil.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	_, stop, err := s.Start(addr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
	defer cancel()
	return stop(sctx)
}

// tracker counts running handlers so stop can wait for them.
type tracker struct {
	mu   sync.Mutex
	cond sync.Cond
	n    int
}

func (t *tracker) add(d int) {
	t.mu.Lock()
	t.n += d
	if t.n == 0 {
		t.cond.Broadcast()
	}
	t.mu.Unlock()
}

func (t *tracker) wait() {
	t.mu.Lock()
	for t.n > 0 {
		t.cond.Wait()
	}
	t.mu.Unlock()
}
