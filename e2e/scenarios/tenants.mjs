// Someone whose e-mail is in two businesses on one server: a right password
// brings the sign-in form back with a "Business" choice (named only once the
// password is proven), and picking one signs in there. At 1280 and 390 px.
import { env, check, screenshot, TIMEOUT } from "../lib.mjs";

async function post(page) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT }), page.getByRole("button", { name: "Sign in" }).click()]);
}

export const scenarios = [
  {
    name: "tenants-sign-in-choice",
    async run({ newContext }) {
      const email = process.env.TEXTDESK_SHARED_EMAIL;
      check(email, "TEXTDESK_SHARED_EMAIL is set");
      for (const [width, height, label] of [[1280, 800, "desktop"], [390, 844, "phone"]]) {
        const page = await (await newContext()).newPage();
        await page.setViewportSize({ width, height });
        await page.goto(`${env.base}/login`);
        // A wrong password names no business.
        await page.getByLabel("E-mail").fill(email);
        await page.getByLabel("Password").fill("not the password");
        await post(page);
        check((await page.locator("#account").count()) === 0, "no business choice after a wrong password");
        await page.getByLabel("Password").fill(env.password);
        await post(page);
        const choice = page.getByLabel("Business");
        await choice.waitFor({ timeout: TIMEOUT });
        const names = await choice.locator("option").allTextContents();
        check(names.includes("Harbor Vets") && names.length === 2, `both businesses offered: ${names}`);
        check((await page.getByLabel("E-mail").inputValue()) === email, "the e-mail is kept");
        await screenshot(page, `login-choose-business-${label}`);
        await choice.selectOption({ label: "Harbor Vets" });
        await page.getByLabel("Password").fill(env.password);
        await Promise.all([page.waitForURL((u) => u.pathname === "/inbox", { timeout: TIMEOUT }), page.getByRole("button", { name: "Sign in" }).click()]);
        await screenshot(page, `inbox-second-business-${label}`);
        const body = await page.locator("body").textContent();
        check(!body.includes("Do you sell gift cards?"), "the first business's customers are not in the second's inbox");
        // As the second business's admin, set its own clock.
        await page.goto(`${env.base}/settings/account`);
        await page.locator("input[name=time_zone]").fill(label === "desktop" ? "Asia/Tokyo" : "Nowhere/Land");
        await Promise.all([page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT }), page.getByRole("button", { name: "Save time zone" }).click()]);
        const said = await page.locator("#time-zone .flash").textContent();
        check(label === "desktop" ? said.includes("Time zone saved") : said.includes("is not a time zone"), `the form answered: ${said}`);
        await screenshot(page, `account-time-zone-${label}`);
      }
    },
  },
];
