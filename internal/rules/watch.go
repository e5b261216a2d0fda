package rules

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// Reloader holds the active rule set of a rules directory and swaps it when
// the files change (Watch) or on request (Reload, for SIGHUP). A reload that
// fails keeps the rules in use and logs every problem.
type Reloader struct {
	dir     string
	reg     *actions.Registry
	log     *slog.Logger
	observe func(ok bool, rules int)
	opts    []Option
	cur     atomic.Pointer[RuleSet]
	mu      sync.Mutex
}

// NewReloader loads the rules; the first load must succeed. observe, when
// not nil, is told of every load: whether it succeeded and the number of
// rules active after it (for metrics). opts apply to every load (the
// worker's input bounds, which the rules' cost bound assumes).
func NewReloader(dir string, reg *actions.Registry, log *slog.Logger, observe func(ok bool, rules int), opts ...Option) (*Reloader, error) {
	if observe == nil {
		observe = func(bool, int) {}
	}
	r := &Reloader{dir: dir, reg: reg, log: log, observe: observe, opts: opts}
	rs, err := Load(dir, reg, opts...)
	if err != nil {
		return nil, err
	}
	r.cur.Store(rs)
	observe(true, len(rs.Rules()))
	return r, nil
}

// Current returns the active rule set.
func (r *Reloader) Current() *RuleSet { return r.cur.Load() }

// Reload loads the directory again; on success the new rules apply to the
// next event, on failure the old ones stay and the error lists every problem.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs, err := Load(r.dir, r.reg, r.opts...)
	if err != nil {
		r.observe(false, len(r.Current().Rules()))
		var le *LoadError
		problems := []string{err.Error()}
		if errors.As(err, &le) {
			problems = problems[:0]
			for _, e := range le.Errors {
				problems = append(problems, e.Error())
			}
		}
		r.log.Error("rules not reloaded; the previous rules stay active", "dir", r.dir, "problems", problems)
		return err
	}
	r.cur.Store(rs)
	r.observe(true, len(rs.Rules()))
	r.log.Info("rules reloaded", "dir", r.dir, "rules", len(rs.Rules()), "files", len(rs.Files()))
	return nil
}

// Watch starts watching the directory (the watch is in place when it
// returns) and reloads after changes settle (250ms without another change),
// until ctx ends. wait returns once the watch has stopped.
func (r *Reloader) Watch(ctx context.Context) (wait func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := addTree(w, r.dir); err != nil {
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		r.watch(ctx, w)
	}()
	return func() { <-done }, nil
}

func (r *Reloader) watch(ctx context.Context, w *fsnotify.Watcher) {
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op&fsnotify.Create != 0 {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					_ = addTree(w, ev.Name)
				}
			}
			if timer == nil {
				timer = time.NewTimer(250 * time.Millisecond)
			} else {
				timer.Reset(250 * time.Millisecond)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			r.log.Warn("rules watch", "err", err)
		case <-fire:
			fire = nil
			_ = r.Reload()
		}
	}
}

// addTree watches a directory and its subdirectories (not hidden ones).
func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		return w.Add(p)
	})
}

// Static is a rule source that never changes.
type Static struct{ RS *RuleSet }

// Current returns the rule set.
func (s Static) Current() *RuleSet { return s.RS }
