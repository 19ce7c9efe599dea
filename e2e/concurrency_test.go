package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
)

func sleeperPod(name string) *corev1.Pod {
	zero := int64(0)
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "c", Image: "docker.io/library/busybox:1.36", Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}},
			}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
		},
	}
}

// TestConcurrency: 20 pods created and deleted in parallel, racing creates
// of one name (one wins, the others get AlreadyExists), and deletes racing
// creates; every call has a deadline, so a deadlock fails the test.
func TestConcurrency(t *testing.T) {
	e := newEnv(t)
	c := client.New(e.socket)
	now := int64(0)
	del := api.DeleteOptions{GracePeriodSeconds: &now}
	checks, passed := 0, 0
	pass := func(ok bool) {
		checks++
		if ok {
			passed++
		}
	}

	t.Run("20 pods in parallel", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		const n = 20
		errs := inParallel(n, func(i int) error {
			_, err := c.CreatePod(ctx, sleeperPod(fmt.Sprintf("par-%d", i)), api.CreateOptions{})
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("parallel creates: %v", err)
		}
		list, err := c.ListPods(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		ips := map[string]string{}
		for _, p := range list {
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s is %s", p.Name, p.Status.Phase)
			}
			if other, dup := ips[p.Status.PodIP]; dup {
				t.Errorf("pods %s and %s share IP %s", p.Name, other, p.Status.PodIP)
			}
			ips[p.Status.PodIP] = p.Name
		}
		if len(list) != n {
			t.Errorf("%d pods listed, want %d", len(list), n)
		}
		errs = inParallel(n, func(i int) error {
			return c.DeletePod(ctx, "default", fmt.Sprintf("par-%d", i), del)
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("parallel deletes: %v", err)
		}
		pass(!t.Failed())
	})

	t.Run("racing creates of one name", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const n = 8
		errs := inParallel(n, func(int) error {
			_, err := c.CreatePod(ctx, sleeperPod("contested"), api.CreateOptions{})
			return err
		})
		won, lost := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, errdefs.ErrAlreadyExists):
				lost++
			default:
				t.Errorf("a racing create failed otherwise: %v", err)
			}
		}
		if won != 1 || lost != n-1 {
			t.Fatalf("%d won and %d got AlreadyExists, want 1 and %d", won, lost, n-1)
		}
		if err := c.DeletePod(ctx, "default", "contested", del); err != nil {
			t.Fatal(err)
		}
		pass(!t.Failed())
	})

	t.Run("delete during create", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for i := range 5 {
			name := fmt.Sprintf("doomed-%d", i)
			created := make(chan error, 1)
			go func() {
				_, err := c.CreatePod(ctx, sleeperPod(name), api.CreateOptions{})
				created <- err
			}()
			// Delete as soon as the name is claimed.
			var derr error
			eventually(t, 30*time.Second, name+" to be deleted", func() bool {
				derr = c.DeletePod(ctx, "default", name, del)
				return derr == nil || !errors.Is(derr, errdefs.ErrNotFound)
			})
			if derr != nil {
				t.Fatalf("delete during create: %v", derr)
			}
			if err := <-created; err != nil && !strings.Contains(err.Error(), "deleted") {
				t.Logf("create of %s ended with: %v", name, err)
			}
			if _, err := c.GetPod(ctx, "default", name); !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("pod %s after delete: %v", name, err)
			}
		}
		pass(!t.Failed())
	})

	leaks := len(e.leaked())
	line := fmt.Sprintf("concurrency: %d consistent of %d, leaks %d", passed, checks, leaks)
	t.Log(line)
	figure(line)
	if passed != checks || leaks != 0 {
		t.Error(line)
	}
}

// inParallel runs fn(0) ... fn(n-1) at once and returns their errors, by
// index.
func inParallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}
