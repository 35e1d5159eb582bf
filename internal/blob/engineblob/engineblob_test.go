package engineblob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/engineblob"
	"github.com/facematch/facematch/internal/blob/local"
)

func TestListTranslatesObjects(t *testing.T) {
	ctx := context.Background()
	ls, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.Put(ctx, "galleries/1/a.jpg", strings.NewReader("abc"), 3); err != nil {
		t.Fatal(err)
	}
	want, err := ls.List(ctx, "galleries/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := engineblob.Store{Blobs: ls}.List(ctx, "galleries/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != want[0].Key || !got[0].ModTime.Equal(want[0].ModTime) {
		t.Fatalf("List = %+v, want the key and time of %+v", got, want)
	}
}

// down is a store in an outage.
type down struct{ blob.Store }

var errDown = fmt.Errorf("s3 outage: %w", blob.ErrUnavailable)

func (down) Put(context.Context, string, io.Reader, int64) error     { return errDown }
func (down) Get(context.Context, string) (io.ReadCloser, error)      { return nil, errDown }
func (down) Delete(context.Context, string) error                    { return errDown }
func (down) List(context.Context, string) ([]blob.ObjectInfo, error) { return nil, errDown }

func TestOutageIsTheEnginesUnavailable(t *testing.T) {
	ctx := context.Background()
	s := engineblob.Store{Blobs: down{}}
	_, getErr := s.Get(ctx, "k")
	for name, err := range map[string]error{
		"put":    s.Put(ctx, "k", strings.NewReader(""), 0),
		"get":    getErr,
		"delete": s.Delete(ctx, "k"),
	} {
		var ra *engine.RetryAfter
		if !errors.Is(err, engine.ErrUnavailable) || !errors.Is(err, blob.ErrUnavailable) || !errors.As(err, &ra) || ra.After <= 0 {
			t.Errorf("%s: %v, want engine.ErrUnavailable with a Retry-After, still wrapping the store's error", name, err)
		}
	}
}
