package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, l store.Limits) store.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), l)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
