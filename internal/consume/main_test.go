package consume_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// goroutine a Consumer starts is stopped by its context and waited for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
