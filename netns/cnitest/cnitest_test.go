package cnitest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/minipod/minipod/netns"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	f := &Fake{}
	r1, err := f.Setup(ctx, netns.Attachment{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := f.Setup(ctx, netns.Attachment{ID: "b", IfName: "net1"})
	if err != nil {
		t.Fatal(err)
	}
	if r1.IP.Equal(r2.IP) || r1.Interface != "eth0" || r2.Interface != "net1" {
		t.Errorf("results %+v %+v: want distinct IPs and the interface names asked for", r1, r2)
	}
	f.FailAdd, f.FailDel = boom, boom
	if _, err := f.Setup(ctx, netns.Attachment{ID: "c"}); !errors.Is(err, boom) {
		t.Errorf("Setup error %v, want %v", err, boom)
	}
	if err := f.Remove(ctx, netns.Attachment{ID: "c"}); !errors.Is(err, boom) {
		t.Errorf("Remove error %v, want %v", err, boom)
	}
	added, removed := f.Calls()
	if !reflect.DeepEqual(added, []string{"a", "b", "c"}) || !reflect.DeepEqual(removed, []string{"c"}) {
		t.Errorf("calls: added %q removed %q", added, removed)
	}
}
