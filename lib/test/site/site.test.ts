import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The quick site is built from the quick-mode executions (npm run test:notebooks leaves them in
// build/executed/; whatever is missing or stale is executed here) and read in headless Chromium, the
// Debian package: from file:// and from a local static server, with every request that leaves the site
// refused and counted. Chromium is installed by CI; its absence is a failure, not a skip.
const repo = path.resolve(import.meta.dirname, "..", "..", "..");
const site = path.join(repo, "build", "site-test");
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

interface SiteInfo {
  mode: string;
  solutions: boolean;
  pages: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** What went wrong while a page loaded: console errors, uncaught exceptions, requests off the site. */
interface PageProblems {
  errors: string[];
  offsite: string[];
}

async function openPage(browser: Browser, base: string, url: string): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage();
  const problems: PageProblems = { errors: [], offsite: [] };
  page.on("console", (m) => {
    if (m.type() === "error") problems.errors.push(m.text());
  });
  page.on("pageerror", (e) => problems.errors.push(String(e)));
  await page.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(base) || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    problems.offsite.push(u);
    return route.abort();
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, problems };
}

/** Waits until every plotly figure of the page has drawn its SVG; returns [figures, drawn]. */
async function plotsDrawn(page: Page): Promise<[number, number]> {
  // Evaluated in the page (this project's TypeScript has no DOM typings, so the code goes as a string).
  const count = () =>
    page.evaluate(
      `(() => { const figs = Array.from(document.querySelectorAll(".sg-plot"));
        return [figs.length, figs.filter((f) => f.querySelector("svg.main-svg")).length]; })()`,
    ) as Promise<[number, number]>;
  let r = await count();
  for (let i = 0; i < 100 && r[1] < r[0]; i++) {
    await page.waitForTimeout(100);
    r = await count();
  }
  return r;
}

describe("the course site in a real browser", () => {
  let browser: Browser;
  let info: SiteInfo;
  let server: ChildProcess | null = null;
  let httpBase = "";

  beforeAll(async () => {
    expect(CHROMIUM, "Chromium (Debian package `chromium`) is needed for this test").toBeTruthy();
    const built = spawnSync("node", [path.join(repo, "lib", "tools", "site.mjs"), "--quick", "--out", site], {
      cwd: repo,
      encoding: "utf8",
      timeout: 840_000,
    });
    expect(built.status, `site build failed:\n${built.stdout}\n${built.stderr}`).toBe(0);
    info = JSON.parse(readFileSync(path.join(site, "site.json"), "utf8")) as SiteInfo;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    const python = readFileSync(path.join(repo, ".jupyter-env", "python"), "utf8").trim();
    const port = await freePort();
    server = spawn(python, ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", site], { stdio: "ignore" });
    httpBase = `http://127.0.0.1:${port}/`;
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(httpBase).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await browser?.close();
    if (server?.pid) server.kill("SIGTERM");
  });

  it("has every lecture and assignment notebook as a page, in course order", () => {
    expect(info.mode).toBe("quick");
    expect(info.solutions).toBe(false);
    const lectures = info.pages.filter((p) => p.startsWith("lectures/"));
    expect(lectures[0]).toBe("lectures/00-semantic-gap");
    expect(lectures).toEqual([...lectures].sort());
    expect(info.pages.some((p) => p.startsWith("a1/"))).toBe(true);
    const index = readFileSync(path.join(site, "index.html"), "utf8");
    for (const p of info.pages) expect(index).toContain(`href="${p}.html"`);
  });

  it("loads every page from file:// with no console error and no request off the site, and draws every plotly figure", async () => {
    const base = pathToFileURL(site).href + "/";
    let figures = 0;
    for (const p of ["index", ...info.pages]) {
      const { page, problems } = await openPage(browser, base, `${base}${p}.html`);
      const [n, drawn] = await plotsDrawn(page);
      figures += n;
      expect({ page: p, ...problems, undrawn: n - drawn }).toEqual({ page: p, errors: [], offsite: [], undrawn: 0 });
      await page.close();
    }
    expect(figures).toBeGreaterThan(10);
  }, 900_000);

  it("shows when and how each page ran, and keeps assignment answers out of the students' edition", async () => {
    const assignments = info.pages.filter((p) => /^a\d+\//.test(p));
    expect(assignments.length).toBeGreaterThan(0);
    for (const p of info.pages) {
      const html = readFileSync(path.join(site, `${p}.html`), "utf8");
      expect(html, p).toMatch(/Executed \d{4}-\d\d-\d\d \d\d:\d\d UTC in quick mode/);
    }
    for (const p of assignments) {
      const [a, name] = p.split("/");
      // The execution the page came from passed its checks (✔ verdicts); the page shows none of them, nor
      // the solutions' written answers.
      const executed = JSON.parse(readFileSync(path.join(repo, "build", "site-cache", "quick", "solutions", a, `${name}.ipynb`), "utf8"));
      const outputText = JSON.stringify(executed.cells.map((c: { outputs?: unknown }) => c.outputs ?? []));
      expect(/✔|>PASS</.test(outputText), `${p}: the execution shows verdicts`).toBe(true);
      const source = readFileSync(path.join(repo, "solutions", a, `${name}.ipynb`), "utf8");
      const answers = [...source.matchAll(/BEGIN SOLUTION -->\\n",\s*"([^"]{40,})/g)].map((m) => m[1].replace(/[*_`\\]/g, "").slice(0, 40));
      const { page } = await openPage(browser, "file:", pathToFileURL(path.join(site, `${p}.html`)).href);
      const shown = await page.locator("body").innerText();
      expect(shown, p).toContain("students’ version");
      const outputs = (await page.locator("div.nboutput").allInnerTexts()).join("\n");
      expect(/✔|\bPASS\b/.test(outputs), `${p}: the page shows no verdict`).toBe(false);
      for (const answer of answers) expect(shown, p).not.toContain(answer);
      await page.close();
    }
  });

  it("navigates by the table of contents and the next/previous links, over http", async () => {
    const { page, problems } = await openPage(browser, httpBase, httpBase);
    await page.click(`nav a[href="${info.pages[0]}.html"]`);
    await page.waitForURL(`${httpBase}${info.pages[0]}.html`);
    await page.click("a.right-next");
    await page.waitForURL(`${httpBase}${info.pages[1]}.html`);
    await page.click("a.left-prev");
    await page.waitForURL(`${httpBase}${info.pages[0]}.html`);
    const [n, drawn] = await plotsDrawn(page);
    expect(drawn).toBe(n);
    expect(problems).toEqual({ errors: [], offsite: [] });
    await page.close();
  });

  for (const where of ["file", "http"] as const) {
    it(`finds pages by search (${where})`, async () => {
      const base = where === "file" ? pathToFileURL(site).href + "/" : httpBase;
      const { page, problems } = await openPage(browser, base, `${base}index.html`);
      await page.fill('input[name="q"]', "softmax");
      await page.press('input[name="q"]', "Enter");
      await page.waitForURL(/search\.html\?q=softmax/);
      await page.waitForSelector("#search-results li a", { timeout: 30_000 });
      const hits = await Promise.all((await page.locator("#search-results li a").all()).map((a) => a.getAttribute("href")));
      expect(hits.some((h) => h?.includes("04-svm-vs-softmax"))).toBe(true);
      expect(problems).toEqual({ errors: [], offsite: [] });
      await page.close();
    });
  }
});
