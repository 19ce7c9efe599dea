// Drives the live view in headless Chromium for TestLiveView. PODS names a
// JSON file of what each pod's page must show (see livePod in
// e2e/liveview_test.go). It checks the overview and then every pod's page,
// reached by clicking as a person would, with a screenshot of each; then
// it talks to the test on stdin/stdout: it prints "READY" on the page of
// VICTIM_POD, waits for "KILLED" (the test has killed VICTIM's process),
// then waits for the page itself to show the restart, without a reload.
"use strict";
const { chromium } = require("playwright-core");
const readline = require("readline");
const path = require("path");
const fs = require("fs");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error("missing " + k);
  return v;
};

function nextLine(rl) {
  return new Promise((resolve) => rl.once("line", resolve));
}

// checkPod waits until the pod's page draws everything p says.
async function checkPod(page, p) {
  const svg = page.locator("#pod-svg");
  const field = (f, text) => svg.locator(`[data-field="${f}"]`).filter({ hasText: text }).first().waitFor({ timeout: 20000 })
    .catch(() => { throw new Error(`no ${f} showing ${JSON.stringify(text)}`); });
  await field("podIP", p.ip);
  await field("veth", p.veth);
  await field("netns", p.netns);
  await field("cgroup", p.cgroup);
  await field("shim", "pid " + p.shim);
  for (const c of p.containers) {
    const g = svg.locator(`[data-container="${c.name}"]`);
    const wait = (loc, what, ms) => loc.first().waitFor({ timeout: ms || 20000 })
      .catch(() => { throw new Error(`container ${c.name}: no ${what}`); });
    await wait(g.locator('[data-field="state"]').filter({ hasText: "running" }), "running state");
    await wait(g.locator('[data-field="ready"]').filter({ hasText: "✓ ready" }), "ready mark", 90000);
    for (const port of c.ports || []) {
      await wait(g.locator('[data-field="port"]').filter({ hasText: port }), "port " + port);
    }
    for (const kind of c.probes || []) {
      await wait(g.locator(`[data-field="${kind}"]`), kind + " probe");
    }
    await page.locator("#events li").filter({ hasText: `Started container ${c.name}` }).first().waitFor({ timeout: 20000 })
      .catch(() => { throw new Error(`events: no "Started container ${c.name}"`); });
    for (const l of c.listens || []) {
      // "0.0.0.0:8080  webapp (pid 123)": the address and port, then the process
      await wait(g.locator('[data-field="listens"]').filter({ hasText: new RegExp(l.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "\\s+\\S+ \\(pid \\d+\\)") }), "process listening on " + l);
    }
  }
  for (const v of p.volumes || []) {
    const t = await svg.locator(`[data-volume="${v.name}"] [data-field="hostPath"]`).textContent({ timeout: 20000 });
    if (!t.includes(v.hostPath)) throw new Error(`volume ${v.name}: page shows ${t}, want ${v.hostPath}`);
    for (const [ctr, label] of Object.entries(v.mounts || {})) {
      const m = await svg.locator(`[data-mount="${ctr}:${v.name}"]`).textContent({ timeout: 20000 });
      if (m.trim() !== label) throw new Error(`volume ${v.name} in ${ctr}: page shows ${JSON.stringify(m)}, want ${JSON.stringify(label)}`);
    }
  }
  for (const h of p.hosts || []) {
    await svg.locator(`[data-host="${h}"]`).waitFor({ timeout: 20000 })
      .catch(() => { throw new Error(`/etc/hosts box: no ${h}`); });
  }
  const [ctr, text] = p.log;
  await page.locator(`[data-log="${ctr}"] pre`).filter({ hasText: text }).waitFor({ timeout: 30000 })
    .catch(() => { throw new Error(`log of ${ctr}: no ${JSON.stringify(text)}`); });
}

async function main() {
  const art = env("ARTIFACTS");
  const pods = JSON.parse(fs.readFileSync(env("PODS"), "utf8"));
  const victimPod = env("VICTIM_POD");
  const victim = env("VICTIM");
  const rl = readline.createInterface({ input: process.stdin });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let where = "the login";
  try {
    page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
    const resp = await page.goto(env("LOGIN_URL"));
    if (!resp.ok()) throw new Error("login: " + resp.status());

    // The overview: every pod and its IP, in its namespace, reaching each
    // of the others by name (they are all in one namespace).
    where = "the overview";
    for (const p of pods) {
      const card = page.locator(`svg [data-pod="${p.name}"]`);
      await card.locator('[data-field="ip"]').filter({ hasText: p.ip }).waitFor({ timeout: 30000 });
      await card.locator('[data-field="reaches"]').filter({ hasText: `reaches ${pods.length - 1} other pods by name` }).waitFor({ timeout: 30000 })
        .catch(() => { throw new Error(`pod ${p.name} does not show that it reaches the ${pods.length - 1} others by name`); });
    }
    await page.locator('svg [data-namespace="default"]').filter({ hasText: `its ${pods.length} pods reach each other by name` }).waitFor({ timeout: 20000 });
    await page.screenshot({ path: path.join(art, "overview.png"), fullPage: true });

    for (const p of pods) {
      where = "the page of pod " + p.name;
      await page.locator(`svg [data-pod="${p.name}"]`).click();
      await checkPod(page, p);
      await page.screenshot({ path: path.join(art, `pod-${p.name}.png`), fullPage: true });
      await page.locator("a.back").click();
      await page.locator(`svg [data-pod="${p.name}"]`).waitFor({ timeout: 20000 });
    }

    // Live: the restart shows up without a reload.
    where = "the restart of " + victim + " in pod " + victimPod;
    await page.locator(`svg [data-pod="${victimPod}"]`).click();
    const svg = page.locator("#pod-svg");
    await svg.locator(`[data-container="${victim}"] [data-field="ready"]`).filter({ hasText: "✓ ready" }).waitFor({ timeout: 30000 });
    const restarts = svg.locator(`[data-container="${victim}"] [data-field="restarts"]`);
    const before = (await restarts.textContent()).trim();
    await page.evaluate(() => { window.__sameDocument = true; });
    console.log("READY " + before);
    const cmd = await nextLine(rl);
    if (cmd.trim() !== "KILLED") throw new Error("unexpected command " + cmd);
    await page.waitForFunction(([sel, b]) => {
      const e = document.querySelector(sel);
      return e && e.textContent.trim() !== b;
    }, [`#pod-svg [data-container="${victim}"] [data-field="restarts"]`, before], { timeout: 60000 });
    const same = await page.evaluate(() => window.__sameDocument === true);
    if (!same) throw new Error("the page was reloaded");
    const after = (await restarts.textContent()).trim();
    await svg.locator(`[data-container="${victim}"] [data-field="state"]`).filter({ hasText: "running" }).waitFor({ timeout: 30000 });
    await page.screenshot({ path: path.join(art, `pod-${victimPod}-restarted.png`), fullPage: true });
    console.log("RESTARTED " + after);
  } catch (err) {
    // What the page showed when it failed, to look at.
    await page.screenshot({ path: path.join(art, "failure.png"), fullPage: true }).catch(() => {});
    throw new Error(`${where}: ${err && err.message || err}`);
  } finally {
    await browser.close();
    rl.close();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack || String(err));
  process.exit(1);
});
