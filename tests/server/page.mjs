// The chat page at / in a real browser (Debian's chromium, headless, driven
// by playwright-core without downloading a browser): send a message, watch
// the streamed answer appear with its tokens/s, stop a long answer with the
// Stop button, and keep a screenshot at $SCREENSHOT (outside the repository).
// Usage: URL=http://127.0.0.1:PORT SCREENSHOT=/path.png node page.mjs
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { URL, SCREENSHOT } = process.env;
// A fresh profile directory each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "adamas-chromium-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(URL + "/");
  await page.waitForFunction(() => document.getElementById("model").textContent.includes("stories260K"));
  await page.fill("#maxtok", "40");
  await page.fill("#input", "Tell me a story about a cat.");
  await page.press("#input", "Enter");
  const answer = page.locator(".msg.assistant.done").first();
  await answer.waitFor({ timeout: 30000 });
  const text = await answer.textContent();
  assert.ok(text.length > 10, `answer: ${JSON.stringify(text)}`);
  assert.ok(!text.startsWith("Error"), text);
  const stats = await page.locator(".stats").first().textContent();
  assert.match(stats, /tokens\/s/);
  console.log("answer:", JSON.stringify(text.slice(0, 80)), "|", stats);
  // A second turn re-sends the conversation; the server reuses its cache.
  await page.fill("#input", "And then?");
  await page.press("#input", "Enter");
  await page.locator(".msg.assistant.done").nth(1).waitFor({ timeout: 30000 });
  const stats2 = await page.locator(".stats").nth(1).textContent();
  const cached = Number((stats2.match(/cached (\d+)/) || [])[1]);
  assert.ok(cached > 0, stats2);
  // Stop: a long answer, interrupted (the request gets ignore_eos, which
  // the page does not send, so that the story cannot end by itself first).
  await page.route("**/v1/chat/completions", (route) => {
    const body = JSON.parse(route.request().postData());
    route.continue({ postData: JSON.stringify({ ...body, ignore_eos: true }) });
  });
  await page.fill("#maxtok", "100000");
  await page.fill("#input", "Tell me a very long story.");
  await page.press("#input", "Enter");
  await page.waitForFunction(() => {
    const m = document.querySelectorAll(".msg.assistant");
    return m.length === 3 && m[2].textContent.length > 20;
  }, null, { polling: 20 });
  await page.click("#stop", { timeout: 5000 }).catch(async (e) => {
    throw new Error("could not press Stop; the answer ended with: " + await page.locator(".stats").nth(2).textContent());
  });
  await page.locator(".msg.assistant.done").nth(2).waitFor({ timeout: 10000 });
  assert.match(await page.locator(".stats").nth(2).textContent(), /stopped/);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.deepEqual(errors, []);
  console.log("screenshot:", SCREENSHOT);
} finally {
  await browser.close();
}
