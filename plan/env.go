package plan

import "strings"

// Applied are the values of a pod that only its creation on the host knows.
type Applied struct {
	PodIP, HostIP, NodeName string
	// UID is the pod's, when the plan was made before it had one.
	UID string
	// CPUs and Memory (bytes) are the node's allocatable, for the
	// resourceFieldRefs of containers without a limit.
	CPUs   int
	Memory int64
}

// Process is the container's environment ("NAME=value") and argv as its
// process gets them: deferred values filled in from a, then $(VAR)
// expanded as Kubernetes does it: each variable sees those defined before
// it; command and args see all. The image's own variables are not
// expanded into others, and values taken from objects are not expanded.
func (c *Container) Process(a Applied) (env, argv []string) {
	return c.process(func(deferred string) string {
		switch {
		case deferred == "status.podIP":
			return a.PodIP
		case deferred == "status.hostIP":
			return a.HostIP
		case deferred == "spec.nodeName":
			return a.NodeName
		case deferred == "metadata.uid":
			return a.UID
		case strings.HasPrefix(deferred, "node:"):
			return NodeResource(deferred, a.CPUs, a.Memory)
		}
		return ""
	})
}

// deferredPlaceholder stands for a deferred value in a plan's env and argv.
func deferredPlaceholder(deferred string) string { return "<" + deferred + ">" }

func (c *Container) process(fill func(deferred string) string) (env, argv []string) {
	env = make([]string, 0, len(c.Env))
	defined := map[string]string{}
	lookup := func(name string) (string, bool) { v, ok := defined[name]; return v, ok }
	for _, e := range c.Env {
		val := e.Value
		if e.Raw != "" {
			val = e.Raw
		}
		if e.Deferred != "" {
			val = fill(e.Deferred)
		}
		if e.From != "image" {
			if e.From == "" {
				val = expand(val, lookup)
			}
			defined[e.Name] = val
		}
		env = append(env, e.Name+"="+val)
	}
	raw := c.Argv
	if c.ArgvRaw != nil {
		raw = c.ArgvRaw
	}
	for _, a := range raw {
		argv = append(argv, expand(a, lookup))
	}
	return env, argv
}

// expandPlanned puts into c's Env and Argv what the process gets, with a
// placeholder for each value known only at apply time; what the pod wrote
// is kept in Raw and ArgvRaw where it differs.
func (c *Container) expandPlanned() {
	env, argv := c.process(deferredPlaceholder)
	for i := range c.Env {
		_, val, _ := strings.Cut(env[i], "=")
		e := &c.Env[i]
		if e.Deferred == "" && e.From == "" && val != e.Value {
			e.Raw = e.Value
		}
		e.Value = val
	}
	for i := range argv {
		if argv[i] != c.Argv[i] {
			c.ArgvRaw = c.Argv
			break
		}
	}
	c.Argv = argv
}

// expand replaces $(VAR) references as Kubernetes does: with the variable's
// value when it is defined, left as written when not; $$ escapes a $.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
