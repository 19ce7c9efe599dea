// Drives the live view in headless Chromium for TestLiveView. It talks to
// the test on stdin/stdout: it prints "READY" once the pod page shows what
// it must, waits for "KILLED" (the test has killed a container's process),
// then waits for the page itself to show the restart, without a reload.
"use strict";
const { chromium } = require("playwright-core");
const readline = require("readline");
const path = require("path");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error("missing " + k);
  return v;
};

function nextLine(rl) {
  return new Promise((resolve) => rl.once("line", resolve));
}

async function main() {
  const art = env("ARTIFACTS");
  const pod = env("POD");
  const containers = env("CONTAINERS").split(",");
  const victim = env("VICTIM");
  const rl = readline.createInterface({ input: process.stdin });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  try {
    page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
    const resp = await page.goto(env("LOGIN_URL"));
    if (!resp.ok()) throw new Error("login: " + resp.status());

    // The overview: the pod, its IP, and the name arrows.
    await page.locator(`svg [data-pod="${pod}"]`).waitFor({ timeout: 20000 });
    await page.locator(`svg [data-pod="${pod}"] [data-field="ip"]`).filter({ hasText: env("POD_IP") }).waitFor({ timeout: 20000 });
    await page.screenshot({ path: path.join(art, "overview.png"), fullPage: true });

    // The pod's page, reached by clicking as a person would.
    await page.locator(`svg [data-pod="${pod}"]`).click();
    const svg = page.locator("#pod-svg");
    await svg.locator('[data-field="podIP"]').filter({ hasText: env("POD_IP") }).waitFor({ timeout: 20000 });
    await svg.locator('[data-field="veth"]').filter({ hasText: env("VETH") }).waitFor({ timeout: 20000 });
    for (const c of containers) {
      await svg.locator(`[data-container="${c}"] [data-field="state"]`).filter({ hasText: "running" }).waitFor({ timeout: 20000 });
      await svg.locator(`[data-container="${c}"] [data-field="ready"]`).filter({ hasText: "✓ ready" }).waitFor({ timeout: 90000 });
    }
    for (const v of env("VOLUMES").split(",")) {
      const [name, hostPath] = v.split("=");
      const t = await svg.locator(`[data-volume="${name}"] [data-field="hostPath"]`).textContent({ timeout: 20000 });
      if (!t.includes(hostPath)) throw new Error(`volume ${name}: page shows ${t}, want ${hostPath}`);
    }
    const listen = env("LISTENS");
    await svg.locator(`[data-container="${victim}"]`).filter({ hasText: listen }).waitFor({ timeout: 20000 });
    await page.locator(`[data-log="${env("LOG_CONTAINER")}"] pre`).filter({ hasText: env("LOG_TEXT") }).waitFor({ timeout: 30000 });
    await page.screenshot({ path: path.join(art, "pod.png"), fullPage: true });

    // Live: the restart shows up without a reload.
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
    await page.screenshot({ path: path.join(art, "pod-restarted.png"), fullPage: true });
    console.log("RESTARTED " + after);
  } catch (err) {
    // What the page showed when it failed, to look at.
    await page.screenshot({ path: path.join(art, "failure.png"), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await browser.close();
    rl.close();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack || String(err));
  process.exit(1);
});
