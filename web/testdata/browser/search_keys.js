// Uses the dashboard's search and filters from the keyboard, in headless
// Chromium: "/" focuses the header's search box, Enter searches, Tab
// reaches the results and Enter follows one; the filter form narrows the
// overview and the URL keeps it.
//
// Its one argument is a JSON object:
//   dashboard  the dashboard's base URL (http://127.0.0.1:port)
//   timeoutMs  how long each step may take
// It prints one line per step and "ok" at the end, or fails with exit 1.
'use strict';

const {chromium} = require('playwright-core');

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const browser = await chromium.launch(JSON.parse(process.env.LAUNCH_OPTIONS));
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.setDefaultTimeout(cfg.timeoutMs);
    const errors = [];
    page.on('pageerror', (e) => errors.push('page error: ' + String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    const step = (name) => console.log('step: ' + name);
    const focused = () => page.evaluate(() => {
      const el = document.activeElement;
      return {id: el.id, tag: el.tagName, href: el.getAttribute('href') || '', inResults: !!el.closest('ul.results')};
    });

    step('slash focuses the search box');
    await page.goto(cfg.dashboard + '/');
    await page.keyboard.press('/');
    let f = await focused();
    check(f.id === 'search-input', 'focus after "/": ' + JSON.stringify(f));

    step('enter searches');
    await page.keyboard.type('report');
    await Promise.all([page.waitForURL('**/search?q=report'), page.keyboard.press('Enter')]);
    check(await page.locator('#results-events ul.results a').count() === 2, 'not two event results');

    step('tab reaches the results');
    for (let i = 0; i < 20 && !(f = await focused()).inResults; i++) {
      await page.keyboard.press('Tab');
    }
    check(f.inResults, 'no result reached by Tab: ' + JSON.stringify(f));
    check(f.href.startsWith('/events?event='), 'first result links ' + f.href);

    step('enter follows the result');
    await Promise.all([page.waitForURL('**/events?event=**'), page.keyboard.press('Enter')]);
    const anchor = new URL(page.url()).hash.slice(1);
    check(anchor && await page.locator('#' + anchor).count() === 1, 'no card ' + anchor + ' at ' + page.url());

    step('slash in a field types a slash');
    await page.goto(cfg.dashboard + '/search');
    await page.locator('#search-page-input').focus();
    await page.keyboard.type('a/b');
    check(await page.locator('#search-page-input').inputValue() === 'a/b', 'the slash was taken from the field');

    step('the filter form narrows the overview');
    await page.goto(cfg.dashboard + '/');
    await page.selectOption('#source-select', 'web');
    await page.selectOption('#window-select', '30d');
    await Promise.all([page.waitForURL('**/?source=web&window=30d'), page.locator('form.filters button').click()]);
    check(await page.locator('#violations-chart').count() === 1, 'no chart on the filtered overview');
    const events = await page.locator('nav[aria-label="Dashboard"] a', {hasText: 'Events'}).getAttribute('href');
    check(events === '/events?source=web&window=30d', 'the Events link drops the filter: ' + events);

    check(errors.length === 0, 'errors:\n' + errors.join('\n'));
    console.log('ok');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
