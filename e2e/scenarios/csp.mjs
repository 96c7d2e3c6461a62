// The pages under the Content-Security-Policy the server sends, enforced by
// Chromium: no page reports a violation, and the selects that used to submit
// through inline onchange= handlers still send their forms (app.js does it).
import { env, check, customerNumber, textIn, signIn, waitLive, screenshot, TIMEOUT } from "../lib.mjs";

/** Collects every CSP violation the page reports, from the console and the DOM event. */
async function watchViolations(page, seen = []) {
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  await page.exposeFunction("__cspViolation", (v) => seen.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${location.pathname}`));
  });
  return seen;
}

/** Changes a select and waits for the page its form loads. */
async function choose(page, select, value) {
  const loaded = page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT * 2 });
  await select.selectOption(value);
  await loaded;
}

/** Posts the login form with a wrong password and waits for the answer. */
async function wrongPassword(page, email, n) {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(`guess ${n}`);
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.getByRole("button", { name: "Sign in" }).click()]);
}

export const scenarios = [
  {
    name: "csp-pages",
    async run({ newContext }) {
      // Someone guesses a password until the e-mail is locked: the page says how long.
      const intruder = await (await newContext()).newPage();
      const violations = await watchViolations(intruder);
      await intruder.goto(`${env.base}/login`);
      for (let n = 0; n < 10; n++) await wrongPassword(intruder, "frontdesk@example.com", n);
      await wrongPassword(intruder, "frontdesk@example.com", 10);
      await intruder.locator(".flash.error", { hasText: "Try again in 15 minutes" }).waitFor();
      await screenshot(intruder, "login-locked-desktop");
      await intruder.setViewportSize({ width: 390, height: 844 });
      await screenshot(intruder, "login-locked-phone");

      const page = await (await newContext()).newPage();
      await watchViolations(page, violations);
      const login = await page.goto(`${env.base}/login`);
      const policy = login.headers()["content-security-policy"] || "";
      check(policy.includes("script-src 'self'") && !policy.includes("unsafe-inline"), `a strict policy: ${policy}`);
      await signIn(page, env.admin);

      // The list's status filter sends its form on change.
      await choose(page, page.locator("#status"), "any");
      check(new URL(page.url()).searchParams.get("status") === "any", `the filter applied: ${page.url()}`);
      await waitLive(page);

      // The thread's priority select too, and the choice is kept.
      const { conversation_id: id } = await textIn(page.request, customerNumber(), "Is the office open Saturday?");
      await page.goto(`${env.base}/conversations/${id}`);
      await waitLive(page);
      // On a phone the actions fold away; the priority is under "More" either way.
      await page.locator("#thread details.actions-menu, #thread details").first().evaluate((d) => { d.open = true; });
      await page.locator(".more-picker").evaluate((d) => { d.open = true; });
      await choose(page, page.locator("#priority"), "high");
      await waitLive(page);
      check((await page.locator("#priority").inputValue()) === "high", "the priority was saved");
      await screenshot(page, "csp-thread");

      for (const path of ["/settings/inboxes", "/settings/users", "/settings/account", "/settings/labels", "/settings/audit"]) {
        const r = await page.goto(`${env.base}${path}`);
        check(r.status() === 200 && (r.headers()["content-security-policy"] || "").includes("default-src 'self'"), `${path} has the policy`);
      }
      await screenshot(page, "csp-audit-desktop");
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await screenshot(page, "csp-audit-phone");
      check(violations.length === 0, `no CSP violations: ${violations.join("; ")}`);
    },
  },
];
