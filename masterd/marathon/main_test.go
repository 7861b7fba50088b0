package marathon_test

import (
	"os"
	"testing"

	"corral/masterd/marathon/marathontest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	marathontest.RemoveBinaries()
	os.Exit(code)
}
