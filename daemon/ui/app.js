// minipod live view: draws what the daemon streams (server-sent events on
// /api/stream, sent when something changes, never polled). Everything is
// built with DOM calls and textContent: nothing from the host is parsed as
// HTML.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const main = document.getElementById("main");
const live = document.getElementById("live");
let source = null;
let current = null; // {ns, name} of the pod page, or null on the overview
const logs = {}; // container -> array of lines
const prev = {}; // container -> {restarts, state}, to flash changes

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function s(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// fit shortens text to n characters, keeping the end (paths end in what
// matters), and gives the whole as a tooltip.
function fit(t, n) {
  t = String(t);
  return t.length <= n ? t : "…" + t.slice(t.length - n + 1);
}

function txt(g, x, y, t, cls, attrs) {
  const e = s("text", Object.assign({x, y, class: cls || ""}, attrs || {}), t);
  g.append(e);
  return e;
}

function box(g, x, y, w, h, fill, stroke, r, dash) {
  const a = {x, y, width: w, height: h, rx: r || 10, fill, stroke, "stroke-width": 1.5};
  if (dash) a["stroke-dasharray"] = dash;
  g.append(s("rect", a));
}

function pill(g, x, y, label, color) {
  const w = 14 + label.length * 7.6;
  g.append(s("rect", {x, y: y - 13, width: w, height: 18, rx: 9, fill: color}));
  txt(g, x + 7, y, label, "pill-text", {"font-size": 12});
  return w;
}

const css = (v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim();
const stateColor = (st) => st === "running" ? css("--ok") : st === "terminated" ? css("--bad") : css("--warn");

function connect(url, handlers) {
  if (source) source.close();
  source = new EventSource(url);
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  for (const [ev, fn] of Object.entries(handlers)) {
    source.addEventListener(ev, (m) => fn(JSON.parse(m.data)));
  }
}

// ---------------------------------------------------------------- overview

function showOverview() {
  current = null;
  main.replaceChildren(
    el("h1", {}, "Pods on this host"),
    el("p", {class: "lead"}, "Each pod is a network namespace with its own IP, plugged into the host's bridge by a veth (a virtual cable). " +
      "Pods of a namespace (the dashed box) find each other by name through their /etc/hosts, which minipod keeps current. Click a pod to see its anatomy."),
    el("div", {class: "card", id: "overview"}, el("p", {class: "hint"}, "Waiting for the daemon…")));
  connect("/api/stream", {pods: drawOverview});
}

function drawOverview(pods) {
  const holder = document.getElementById("overview");
  if (!holder) return;
  if (pods.length === 0) {
    holder.replaceChildren(el("p", {class: "hint"}, "No pods yet. Try: minipod run examples/hello-pod/pod.yaml"));
    return;
  }
  // One region per namespace: its pods reach each other by name, because
  // each one's /etc/hosts names the others. Drawing an arrow for every
  // pair would say the same thing n×(n-1) times, and hide the pods.
  const namespaces = [...new Set(pods.map((p) => p.namespace))];
  const W = 1160, cw = 246, gap = 28, perRow = 4;
  const cardH = (p) => 120 + Math.min(4, (p.containers || []).length) * 16;
  const layout = [];
  let y = 130;
  for (const ns of namespaces) {
    const members = pods.filter((p) => p.namespace === ns);
    const top = y;
    y += 62;
    members.forEach((p, i) => {
      const col = i % perRow;
      if (i > 0 && col === 0) y += Math.max(...members.slice(i - perRow, i).map(cardH)) + 50;
      layout.push({p, x: 52 + col * (cw + gap), y});
    });
    y += Math.max(...members.slice(-(((members.length - 1) % perRow) + 1)).map(cardH)) + 24;
    layout.push({ns, n: members.length, top, bottom: y});
    y += 24;
  }
  const H = y + 10;
  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "pods on this host"});
  box(svg, 8, 8, W - 16, H - 16, css("--host"), css("--line"), 16);
  txt(svg, 28, 36, "This host", "title", {"font-size": 16});
  const bridge = pods.find((p) => p.bridge);
  box(svg, 28, 56, W - 56, 40, css("--bridge"), css("--bridge-edge"), 20);
  txt(svg, 48, 81, "bridge " + (bridge ? bridge.bridge : ""), "title", {"font-size": 14});
  txt(svg, 250, 81, "a virtual switch on the host: packets between pods cross it", "muted", {"font-size": 12});
  const front = s("g");
  for (const l of layout.filter((l) => l.ns !== undefined)) {
    const g = svg.appendChild(s("g", {"data-namespace": l.ns}));
    box(g, 28, l.top, W - 56, l.bottom - l.top, "none", css("--netns-edge"), 14, "6 5");
    txt(g, 52, l.top + 24, `namespace ${l.ns}`, "title", {"font-size": 14});
    txt(g, 52, l.top + 42, l.n > 1
      ? `its ${l.n} pods reach each other by name: minipod keeps every pod's /etc/hosts listing the others, name → IP`
      : "a pod alone: its /etc/hosts names only itself", "muted", {"font-size": 12});
  }
  for (const {p, x, y} of layout.filter((l) => l.p)) {
    const h = cardH(p);
    // the veth: from the bridge down the gap beside the card, into its side
    const vx = x - 14;
    svg.append(s("path", {d: `M ${vx} 96 L ${vx} ${y + 30} L ${x} ${y + 30}`, fill: "none", stroke: css("--bridge-edge"), "stroke-width": 3, "pointer-events": "none"}));
    const a = s("a", {href: `#/pod/${encodeURIComponent(p.namespace)}/${encodeURIComponent(p.name)}`, "data-pod": p.name});
    const g = s("g");
    a.append(g);
    box(g, x, y, cw, h, css("--netns"), css("--netns-edge"), 14);
    txt(g, x + 14, y + 26, fit(p.name, 26), "title link", {"font-size": 15});
    txt(g, x + 14, y + 46, (p.podIP || "no IP yet") + "  ·  " + p.namespace, "mono", {"font-size": 12, "data-field": "ip"});
    if (p.veth) txt(g, x + 14, y + 62, "veth " + p.veth, "mono muted", {"font-size": 11});
    const phase = p.deleting ? "Terminating" : p.phase;
    pill(g, x + 14, y + 84, phase, phase === "Running" ? css("--ok") : phase === "Failed" ? css("--bad") : css("--warn"));
    let ly = y + 108;
    (p.containers || []).slice(0, 4).forEach((c) => {
      g.append(s("circle", {cx: x + 20, cy: ly - 4, r: 5, fill: stateColor(c.state)}));
      txt(g, x + 32, ly, fit(c.name, 18), "", {"font-size": 12});
      txt(g, x + 168, ly, (c.ready ? "ready" : "not ready") + (c.restarts ? `  ↻${c.restarts}` : ""), c.ready ? "ok" : "warn", {"font-size": 11.5});
      ly += 16;
    });
    const n = (p.hosts || []).length;
    txt(g, x + 14, ly + 2, n ? `reaches ${n} other pod${n > 1 ? "s" : ""} by name` : "no other pod by name", "muted", {"font-size": 11.5, "data-field": "reaches"});
    front.append(a);
  }
  svg.append(front);
  holder.replaceChildren(svg);
}

function arrowDefs() {
  const defs = s("defs");
  const m = s("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
  m.append(s("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: css("--netns-edge")}));
  defs.append(m);
  return defs;
}

// ---------------------------------------------------------------- one pod

function showPod(ns, name) {
  current = {ns, name};
  for (const k of Object.keys(logs)) delete logs[k];
  main.replaceChildren(
    el("a", {href: "#/", class: "back"}, "← all pods"),
    el("h1", {}, "Pod " + name),
    el("p", {class: "lead"}, "What this pod is on the host right now. The blue box is its network namespace: every container inside shares its one IP and its localhost. " +
      "Orange boxes are volumes, real directories on the host; a line is a mount (dashed: read-only)."),
    el("div", {class: "card", id: "anatomy"}, el("p", {class: "hint"}, "Waiting for the daemon…")),
    el("div", {class: "grid"},
      el("div", {}, el("h2", {}, "Events"), el("div", {class: "card"}, el("ul", {class: "events", id: "events"}))),
      el("div", {}, el("h2", {}, "Logs (last lines, live)"), el("div", {class: "card", id: "logs"}))));
  connect(`/api/stream?pod=${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, {
    pod: drawPod,
    logreset: (m) => { logs[m.container] = []; drawLog(m.container); },
    log: (m) => {
      const l = logs[m.container] || (logs[m.container] = []);
      l.push(m.line);
      if (l.length > 40) l.shift();
      drawLog(m.container);
    },
  });
}

function drawLog(ctr) {
  const holder = document.getElementById("logs");
  if (!holder) return;
  let div = holder.querySelector(`[data-log="${CSS.escape(ctr)}"]`);
  if (!div) {
    div = el("div", {class: "log", "data-log": ctr}, el("h3", {}, ctr), el("pre", {}));
    holder.append(div);
  }
  const pre = div.querySelector("pre");
  pre.textContent = (logs[ctr] || []).join("\n") || "(nothing yet)";
  pre.scrollTop = pre.scrollHeight;
}

function drawEvents(events) {
  const ul = document.getElementById("events");
  if (!ul) return;
  ul.replaceChildren(...events.slice().reverse().map((e) => el("li", {class: e.type},
    el("span", {class: "reason"}, e.reason), el("span", {}, e.message + (e.count > 1 ? ` (×${e.count})` : "")),
    el("span", {class: "when"}, new Date(e.last).toLocaleTimeString()))));
}

// cardChars is how many characters of a value fit on a container's card.
const cardChars = 35;

function cardLines(c, listening) {
  const lines = [];
  lines.push(["image", c.image]);
  if (c.pid) lines.push(["pid", c.pid + " on the host"]);
  for (const p of c.ports || []) lines.push(["port", p]);
  for (const l of listening.filter((l) => l.container === c.name)) {
    // the address whole (it is what matters), the process's name as fits
    const at = `${l.address}:${l.port}`, pid = ` (pid ${l.pid})`;
    const room = Math.max(4, cardChars - at.length - 2 - pid.length);
    let proc = (l.process || "?").split(" ")[0];
    if (proc.length > room) proc = proc.slice(0, room - 1) + "…";
    lines.push(["listens", `${at}  ${proc}${pid}`]);
  }
  for (const p of c.probes || []) {
    const i = p.indexOf(": ");
    lines.push([p.slice(0, i), p.slice(i + 2)]);
  }
  if (c.limits) lines.push(["limits", c.limits]);
  return lines;
}

function drawPod(page) {
  const holder = document.getElementById("anatomy");
  if (!holder) return;
  if (!page) {
    holder.replaceChildren(el("p", {class: "hint"}, "This pod does not exist (any more)."));
    return;
  }
  drawEvents(page.events || []);
  const v = page.view;
  const W = 1160;
  const ctrs = v.containers || [];
  const listening = v.listening || [];
  const cw = 340, cgap = 24, perRow = 3;
  const cardH = Math.max(150, ...ctrs.map((c) => 78 + cardLines(c, listening).length * 17));
  const rows = Math.max(1, Math.ceil(ctrs.length / perRow));
  const nsY = 170, nsH = 70 + rows * (cardH + 20) + 44;
  const vols = v.volumes || [];
  const vw = 370, volY = nsY + nsH + 80;
  const volH = 92 + Math.max(1, ...vols.map((v) => Math.ceil(v.hostPath.length / 50))) * 14;
  const volRows = Math.ceil(vols.length / 2);
  // /etc/hosts: the names this pod's containers resolve, beside the volumes
  const names = (v.hosts || "").split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 2 && !f[0].startsWith("#") && /^\d+\.\d+\.\d+\.\d+$/.test(f[0]) && !f[0].startsWith("127."));
  const hostsH = 58 + Math.max(1, names.length) * 17;
  const cgY = volY + Math.max(vols.length ? volRows * (volH + 50) : 0, hostsH + 50);
  const H = cgY + 130;
  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "pod " + v.name + " on the host", id: "pod-svg"});
  svg.append(arrowDefs());

  // the host
  box(svg, 8, 8, W - 16, H - 16, css("--host"), css("--line"), 16);
  txt(svg, 28, 36, "This host" + (v.hostIP ? "  " + v.hostIP : ""), "title", {"font-size": 16});

  // bridge and shim
  const bx = 40, by = 56;
  const veth = svg.appendChild(s("g", {"data-part": "network"}));
  box(veth, bx, by, 420, 52, css("--bridge"), css("--bridge-edge"), 12);
  txt(veth, bx + 16, by + 22, "bridge " + (v.bridge.name || "?") + "  " + (v.bridge.ip || ""), "title mono", {"font-size": 13, "data-field": "bridge"});
  txt(veth, bx + 16, by + 40, "virtual switch on the host; its address is the pod's gateway", "muted", {"font-size": 11.5});
  const shim = svg.appendChild(s("g", {"data-part": "shim"}));
  box(shim, W - 460, by, 420, 52, css("--shim"), css("--line"), 12);
  txt(shim, W - 444, by + 22, "containerd shim  pid " + (v.shim.pid || "?"), "title", {"font-size": 13, "data-field": "shim"});
  txt(shim, W - 444, by + 40, "parent of the containers' processes; holds their output and exit codes", "muted", {"font-size": 11.5});

  // the veth, from the bridge to eth0
  const vx = bx + 120;
  if (!v.hostNetwork) {
    veth.append(s("line", {x1: vx, y1: by + 52, x2: vx, y2: nsY, stroke: css("--bridge-edge"), "stroke-width": 4}));
    txt(veth, vx + 12, by + 78, "veth " + (v.veth.host || "?"), "title mono", {"font-size": 13, "data-field": "veth"});
    txt(veth, vx + 12, by + 95, "a virtual cable: this end on the host, the other end is " + (v.veth.pod || "eth0") + " inside the pod", "muted", {"font-size": 11.5});
  }

  // the network namespace
  const ns = svg.appendChild(s("g", {"data-part": "netns"}));
  box(ns, 40, nsY, W - 80, nsH, css("--netns"), css("--netns-edge"), 16);
  ns.append(s("circle", {cx: vx, cy: nsY, r: 9, fill: css("--bridge-edge")}));
  txt(ns, vx + 16, nsY + 24, (v.veth.pod || "eth0") + "  " + (v.podIP || "no IP yet"), "title mono", {"font-size": 15, "data-field": "podIP"});
  txt(ns, 60, nsY + 50, "network namespace " + v.netns.name + "  (pinned at " + fit(v.netns.path, 60) + ")", "muted mono", {"font-size": 11.5, "data-field": "netns"});
  const phase = v.phase || "Unknown";
  pill(ns, W - 180, nsY + 26, phase, phase === "Running" ? css("--ok") : phase === "Failed" ? css("--bad") : css("--warn"));

  const cardPos = {};
  ctrs.forEach((c, i) => {
    const col = i % perRow, row = Math.floor(i / perRow);
    const x = 60 + col * (cw + cgap), y = nsY + 70 + row * (cardH + 20);
    cardPos[c.name] = {x, y};
    const g = ns.appendChild(s("g", {"data-container": c.name}));
    box(g, x, y, cw, cardH, css("--ctr"), stateColor(c.state), 12);
    g.append(s("rect", {x, y, width: 6, height: cardH, rx: 3, fill: stateColor(c.state)}));
    txt(g, x + 18, y + 24, fit(c.name, 24) + (c.init ? "  (init)" : ""), "title", {"font-size": 15});
    const st = c.state + (c.reason ? " · " + c.reason : "") + (c.state === "terminated" ? " · exit " + c.exitCode : "");
    const p = prev[c.name];
    const w1 = pill(g, x + 18, y + 50, st, stateColor(c.state));
    g.lastChild.setAttribute("data-field", "state");
    const rtxt = txt(g, x + 28 + w1, y + 50, "restarts " + c.restarts, "", {"font-size": 12.5, "data-field": "restarts"});
    const rd = txt(g, x + 118 + w1, y + 50, c.ready ? "✓ ready" : "✗ not ready", c.ready ? "ok" : "warn", {"font-size": 12.5, "data-field": "ready"});
    if (p && p.restarts !== c.restarts) rtxt.setAttribute("class", "bad flash");
    if (p && p.ready !== c.ready) rd.classList.add("flash");
    prev[c.name] = {restarts: c.restarts, ready: c.ready};
    cardLines(c, listening).forEach(([k, val], j) => {
      const ly = y + 76 + j * 17;
      txt(g, x + 18, ly, k, "muted", {"font-size": 11.5});
      txt(g, x + 84, ly, fit(val, cardChars), "mono", {"font-size": 11.5, "data-field": k});
    });
  });
  // localhost, shared
  const ly = nsY + nsH - 30;
  ns.append(s("line", {x1: 60, y1: ly, x2: W - 60, y2: ly, stroke: css("--netns-edge"), "stroke-width": 2, "stroke-dasharray": "6 5"}));
  txt(ns, 70, ly + 18, "lo 127.0.0.1 · one localhost for all containers: they talk to each other on it, and two cannot listen on the same port", "muted", {"font-size": 11.5});

  // volumes and their mounts
  vols.forEach((vol, i) => {
    const col = i % 2, row = Math.floor(i / 2);
    const x = 40 + col * (vw + 15), y = volY + row * (volH + 50);
    const g = svg.appendChild(s("g", {"data-volume": vol.name}));
    for (const u of vol.mountedBy || []) {
      const cp = cardPos[u.container];
      if (!cp) continue;
      const x1 = cp.x + cw / 2, y1 = cp.y + cardH, x2 = x + vw / 2, y2 = y;
      const attrs = {d: `M ${x1} ${y1} C ${x1} ${y1 + 60}, ${x2} ${y2 - 60}, ${x2} ${y2}`, fill: "none", stroke: css("--vol-edge"), "stroke-width": 2};
      if (u.readOnly) attrs["stroke-dasharray"] = "5 4";
      svg.insertBefore(s("path", attrs), ns);
      const label = txt(svg, x1 + 8, nsY + nsH + 18, "mounts at " + u.mountPath + (u.readOnly ? ", read-only" : ", read-write"), "mono", {"font-size": 11});
      label.setAttribute("data-mount", u.container + ":" + vol.name);
    }
    box(g, x, y, vw, volH, css("--vol"), css("--vol-edge"), 12);
    txt(g, x + 16, y + 24, "volume " + vol.name, "title", {"font-size": 14});
    txt(g, x + 16, y + 42, vol.kind + (vol.medium ? " (" + vol.medium + ")" : "") + (vol.source ? " from " + vol.source : ""), "muted", {"font-size": 12});
    // the host path, whole, on as many lines as it takes
    const hp = txt(g, x + 16, y + 60, "", "mono", {"font-size": 11, "data-field": "hostPath"});
    const chunks = vol.hostPath.match(/.{1,50}/g) || [""];
    chunks.forEach((c, j) => hp.append(s("tspan", {x: x + 16, dy: j ? 14 : 0}, c)));
    txt(g, x + 16, y + 68 + chunks.length * 14, vol.kind === "emptyDir" ? "on the host; removed with the pod" : vol.kind === "hostPath" ? "the host's own; minipod never deletes it" : "files written by minipod", "muted", {"font-size": 11});
  });

  const hx = 40 + 2 * (vw + 15), hw = W - 40 - hx;
  const hg = svg.appendChild(s("g", {"data-part": "hosts"}));
  box(hg, hx, volY, hw, hostsH, "#ffffff", css("--netns-edge"), 12, "4 3");
  txt(hg, hx + 16, volY + 24, "/etc/hosts: names it resolves", "title", {"font-size": 14});
  txt(hg, hx + 16, volY + 42, "the same file in every container, kept current", "muted", {"font-size": 11});
  names.forEach((f, j) => {
    const own = f[0] === v.podIP;
    txt(hg, hx + 16, volY + 64 + j * 17, fit(f[1], 22) + " → " + f[0] + (own ? "  (itself)" : ""), own ? "mono muted" : "mono", {"font-size": 12, "data-host": f[1]});
  });
  if (!names.length) txt(hg, hx + 16, volY + 64, "no other pods yet", "muted", {"font-size": 12});

  // the shim is the parent of each container's process: dotted lines
  for (const c of ctrs) {
    const cp = cardPos[c.name];
    if (!cp || !c.pid) continue;
    svg.insertBefore(s("path", {d: `M ${W - 250} ${by + 52} C ${W - 250} ${by + 140}, ${cp.x + cw - 40} ${cp.y - 60}, ${cp.x + cw - 40} ${cp.y}`,
      fill: "none", stroke: "#9aa3b5", "stroke-width": 1.2, "stroke-dasharray": "2 4"}), ns.nextSibling);
  }

  // cgroup
  const cg = svg.appendChild(s("g", {"data-part": "cgroup"}));
  box(cg, 40, cgY, W - 80, 96, css("--cg"), css("--cg-edge"), 12);
  txt(cg, 56, cgY + 24, "cgroup " + v.cgroup.path, "title mono", {"font-size": 13, "data-field": "cgroup"});
  txt(cg, 56, cgY + 44, `pod limits: memory ${v.cgroup.memory || "?"} · cpu ${v.cgroup.cpu || "?"} · pids ${v.cgroup.pids || "?"}`, "", {"font-size": 12.5});
  txt(cg, 56, cgY + 64, "the kernel counts and limits what all the pod's processes use here; each container has its own cgroup inside", "muted", {"font-size": 11.5});
  txt(cg, 56, cgY + 82, "no pause container: the pod's namespaces are pinned as files in " + fit(v.namespaceDir, 56), "muted mono", {"font-size": 11});

  holder.replaceChildren(svg);
}

// ---------------------------------------------------------------- routing

function route() {
  const m = location.hash.match(/^#\/pod\/([^/]+)\/([^/]+)$/);
  if (m) showPod(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  else showOverview();
}
window.addEventListener("hashchange", route);
route();
