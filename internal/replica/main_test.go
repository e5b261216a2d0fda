package replica_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: a
// replica's goroutines all end with Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
