package worker

import "sync"

// keyLocks are the idempotency keys this process is writing right now. The
// record's owner field cannot tell two events of this replica apart (a
// ransomware hash in many incidents at once), so a key in use here is busy
// even when its pending record names this replica; a pending record of this
// replica that is not in use here was left by a crash and may be reclaimed.
type keyLocks struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// tryLock takes key; false when this process already holds it.
func (l *keyLocks) tryLock(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = make(map[string]struct{})
	}
	if _, held := l.keys[key]; held {
		return false
	}
	l.keys[key] = struct{}{}
	return true
}

func (l *keyLocks) unlock(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}
