// Reports for supervisors: this month's KPIs against targets with the trend,
// the charts (lines, bars, the hour × weekday heat map) drawn on the server,
// a filter, the CSV links; readable on a desk and on a phone. Agents are refused.
import { env, check, customerNumber, textIn, signIn, eventually, assertNoHorizontalScroll, screenshot } from "../lib.mjs";

/** The report page once the rollups have counted a conversation (they follow the log within seconds). */
async function reportWithData(page) {
  await textIn(page.request, customerNumber(), "What time do you open on Saturday?");
  await eventually("the report counts the new conversation", async () => {
    await page.goto(`${env.base}/reports`);
    const value = await page.locator('[data-kpi="conversations"] .kpi-value').innerText();
    return Number(value) > 0;
  }, 20_000);
}

export const scenarios = [
  {
    name: "reports-desk",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await signIn(page, env.supervisor);
      await page.getByRole("link", { name: "Reports" }).first().waitFor();
      await reportWithData(page);
      await page.getByRole("heading", { name: /^Reports · \d{4}-\d{2}$/ }).waitFor();
      check((await page.locator("#report-range").innerText()).includes("business's clock"), "the clock is named");
      const target = page.locator('[data-kpi="first_response_business"] .kpi-target');
      check((await target.innerText()).includes("Target 15 min"), "the first-response target is shown");
      check((await page.locator("svg.chart").count()) === 3, "a trend, channel bars and a heat map");
      check((await page.locator("svg.chart polyline.line-new").count()) === 1, "the trend is a line");
      check((await page.locator("svg.chart rect.bar").count()) >= 1, "the channels are bars");
      await assertNoHorizontalScroll(page, "the report at 1280 px");
      await screenshot(page, "reports-desk");
      // A filter keeps the period and narrows the report; the CSV links carry both.
      await page.locator('select[name="channel"]').selectOption("sms");
      await Promise.all([page.waitForURL(/channel=sms/), page.getByRole("button", { name: "Show report" }).click()]);
      const csv = await page.locator(".csv-links a", { hasText: "kpis" }).getAttribute("href");
      check(csv.includes("channel=sms") && csv.includes("table=kpis"), `the CSV link keeps the filter: ${csv}`);
      const r = await page.request.get(`${env.base}${csv}`);
      check(r.ok() && (await r.text()).startsWith("kpi,name,unit,value,target"), "the CSV downloads");
      // An agent is refused, in words, on a page.
      const agent = await (await newContext()).newPage();
      await signIn(agent, env.agent);
      check((await agent.getByRole("link", { name: "Reports" }).count()) === 0, "agents have no Reports link");
      const refused = await agent.goto(`${env.base}/reports`);
      check(refused.status() === 403, `agents get 403, not ${refused.status()}`);
      await agent.getByText("reports are for supervisors and admins").waitFor();
    },
  },
  {
    name: "reports-phone",
    async run({ newContext }) {
      const page = await (await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await signIn(page, env.supervisor);
      await textIn(page.request, customerNumber(), "Are you open on Sunday?");
      // The bar has no room for every page on a phone: "More" holds Reviews and Reports.
      const more = page.locator(".more-nav > summary");
      await more.waitFor();
      check((await page.getByRole("link", { name: "Reports" }).count()) === 0, "Reports is tucked away until More is opened");
      await more.click();
      const menu = page.getByRole("navigation", { name: "More pages" });
      await menu.getByRole("link", { name: "Reviews" }).waitFor();
      await assertNoHorizontalScroll(page, "the More menu on a phone");
      await screenshot(page, "reports-phone-menu");
      await Promise.all([page.waitForURL(/\/reports$/), menu.getByRole("link", { name: "Reports" }).click()]);
      await reportWithData(page);
      await assertNoHorizontalScroll(page, "the report on a phone");
      await screenshot(page, "reports-phone");
      await page.locator("#agents-title").scrollIntoViewIfNeeded();
      await screenshot(page, "reports-phone-agents");
      await page.locator("#hours-title").scrollIntoViewIfNeeded();
      await screenshot(page, "reports-phone-charts");
      // The same menu leads to the review queue.
      await page.locator(".more-nav > summary").click();
      await Promise.all([page.waitForURL(/\/reviews$/), page.getByRole("navigation", { name: "More pages" }).getByRole("link", { name: "Reviews" }).click()]);
      await assertNoHorizontalScroll(page, "the review queue on a phone");
    },
  },
];
