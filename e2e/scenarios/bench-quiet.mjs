// The account's quiet hours on the settings page: a window that does not read
// is refused with the reason and kept in the field to fix; a good one saves.
import { check, env, screenshot, signIn, PHONE, assertNoHorizontalScroll } from "../lib.mjs";

export const scenarios = [
  {
    name: "quiet-hours",
    async run({ newContext }) {
      const ctx = await newContext();
      const page = await ctx.newPage();
      await signIn(page, env.admin);
      await page.goto(`${env.base}/settings/inboxes`);
      await Promise.all([page.waitForURL(/\/settings\/account$/), page.getByRole("link", { name: "Account" }).click()]);
      const form = page.locator("form#quiet-hours");
      const field = form.getByLabel("Texting allowed");
      check((await field.getAttribute("placeholder")) === "08:00-21:00", "the server's window is shown as the default");

      await field.fill("25:00-08:00");
      await Promise.all([page.waitForNavigation(), form.getByRole("button", { name: "Save quiet hours" }).click()]);
      const error = page.getByRole("alert");
      await error.filter({ hasText: "is not a window like 08:00-21:00" }).waitFor();
      check((await page.locator("form#quiet-hours").getByLabel("Texting allowed").inputValue()) === "25:00-08:00", "the typo is kept to fix");
      check((await page.locator("form#quiet-hours").getByLabel("Texting allowed").getAttribute("aria-invalid")) === "true", "the field is marked invalid");

      await page.locator("form#quiet-hours").getByLabel("Texting allowed").fill("09:00-20:00");
      await Promise.all([
        page.waitForURL(/saved=quiet-hours/),
        page.locator("form#quiet-hours").getByRole("button", { name: "Save quiet hours" }).click(),
      ]);
      await page.getByRole("status").filter({ hasText: "Quiet hours saved" }).waitFor();
      check((await page.locator("form#quiet-hours").getByLabel("Texting allowed").inputValue()) === "09:00-20:00", "the saved window shows");
      check((await page.getByRole("alert").count()) === 0, "no error is left on the page");
      await screenshot(page, "settings-quiet-hours");

      await page.setViewportSize(PHONE);
      await assertNoHorizontalScroll(page, "the account settings at 360 px");

      // Back to the server's window, so the scenarios after this one see the usual hours.
      await page.locator("form#quiet-hours").getByLabel("Texting allowed").fill("");
      await Promise.all([
        page.waitForURL(/saved=quiet-hours/),
        page.locator("form#quiet-hours").getByRole("button", { name: "Save quiet hours" }).click(),
      ]);
      check((await page.locator("form#quiet-hours").getByLabel("Texting allowed").inputValue()) === "", "the default applies again");
    },
  },
];
