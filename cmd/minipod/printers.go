package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// newTable returns a tabwriter laid out like kubectl's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
}

// podTableOptions shape `get pods`.
type podTableOptions struct {
	wide          bool
	allNamespaces bool
	hostname      string // NODE, when the pod does not name one
	now           time.Time
}

// printPodTable writes pods as kubectl's table: NAME READY STATUS RESTARTS
// AGE, with -o wide IP NODE, with -A NAMESPACE first.
func printPodTable(w io.Writer, pods []corev1.Pod, o podTableOptions) error {
	tw := newTable(w)
	var head []string
	if o.allNamespaces {
		head = append(head, "NAMESPACE")
	}
	head = append(head, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	if o.wide {
		head = append(head, "IP", "NODE")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i := range pods {
		p := &pods[i]
		s := summarizePod(p, o.now)
		var row []string
		if o.allNamespaces {
			row = append(row, p.Namespace)
		}
		row = append(row, p.Name, s.Ready, s.Status, s.Restarts, ageOf(p.ObjectMeta, o.now))
		if o.wide {
			node := p.Spec.NodeName
			if node == "" {
				node = o.hostname
			}
			row = append(row, orNone(podIP(p)), orNone(node))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func podIP(p *corev1.Pod) string {
	if len(p.Status.PodIPs) > 0 {
		return p.Status.PodIPs[0].IP
	}
	return p.Status.PodIP
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// dataRow is one row of `get configmaps` or `get secrets`.
type dataRow struct {
	meta metav1.ObjectMeta
	data int
}

// printDataTable writes NAME DATA AGE (NAMESPACE first with -A).
func printDataTable(w io.Writer, rows []dataRow, allNamespaces bool, now time.Time) error {
	tw := newTable(w)
	if allNamespaces {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tDATA\tAGE")
	for _, r := range rows {
		if allNamespaces {
			fmt.Fprint(tw, r.meta.Namespace+"\t")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", r.meta.Name, r.data, ageOf(r.meta, now))
	}
	return tw.Flush()
}

func configMapRows(items []corev1.ConfigMap) []dataRow {
	rows := make([]dataRow, len(items))
	for i, cm := range items {
		rows[i] = dataRow{meta: cm.ObjectMeta, data: len(cm.Data) + len(cm.BinaryData)}
	}
	return rows
}

func secretRows(items []corev1.Secret) []dataRow {
	rows := make([]dataRow, len(items))
	for i, s := range items {
		n := len(s.Data)
		for k := range s.StringData {
			if _, dup := s.Data[k]; !dup {
				n++
			}
		}
		rows[i] = dataRow{meta: s.ObjectMeta, data: n}
	}
	return rows
}

// printObjects writes objects as json, yaml or name. One object prints as
// itself; several (or a list that was asked for) as a v1 List.
func printObjects(w io.Writer, format, resource string, objs []any, names []string, single bool) error {
	switch format {
	case "name":
		for _, n := range names {
			fmt.Fprintf(w, "%s/%s\n", resource, n)
		}
		return nil
	case "json", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: want wide, yaml, json or name", format)
	}
	var v any
	if single && len(objs) == 1 {
		v = objs[0]
	} else {
		v = struct {
			metav1.TypeMeta `json:",inline"`
			Items           []any `json:"items"`
		}{metav1.TypeMeta{Kind: "List", APIVersion: "v1"}, objs}
	}
	if format == "json" {
		if err := writeJSON(w, v, "    "); err != nil {
			return fmt.Errorf("failed to print as JSON: %w", err)
		}
		return nil
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to print as YAML: %w", err)
	}
	_, err = w.Write(data)
	return err
}

// humanSize prints a byte count as docker does (5.2MB).
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + "B"
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			return strconv.FormatFloat(f, 'f', 1, 64) + u
		}
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + "PB"
}

// writeJSON prints v as indented JSON, with <, > and & as they are: the
// reader is a person or jq, not an HTML page (encoding/json escapes them
// as \u003c... by default).
func writeJSON(w io.Writer, v any, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	return enc.Encode(v)
}
