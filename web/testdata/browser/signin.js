// Signs in to a dashboard that has a password, in headless Chromium, and
// checks what a person would see: the redirect to the login form, a wrong
// password refused with a message, every page once signed in (no console
// errors, a screenshot of each), forged cross-site POSTs to /logout and
// /login refused while the session stays valid, and signing out.
//
// Its one argument is a JSON object:
//   dashboard  the dashboard's base URL (http://127.0.0.1:port)
//   evil       the base URL of another site, whose /forge-logout and
//              /forge-login pages auto-submit a form to the dashboard
//   user, password  the right credentials
//   pages      [{name, path, selector}]: the pages to browse once signed in
//   shots      a folder for the screenshots
//   timeoutMs  how long each step may take
// It prints one line per step and "ok" at the end, or fails with exit 1.
'use strict';

const {chromium} = require('playwright-core');
const path = require('path');

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const dash = new URL(cfg.dashboard);
  const browser = await chromium.launch(JSON.parse(process.env.LAUNCH_OPTIONS));
  try {
    const context = await browser.newContext({viewport: {width: 1280, height: 900}});
    const page = await context.newPage();
    page.setDefaultTimeout(cfg.timeoutMs);
    let errors = [];
    page.on('pageerror', (e) => errors.push('page error: ' + String(e)));
    const evil = new URL(cfg.evil);
    page.on('console', (m) => {
      // The other site's own errors are not the dashboard's, nor is the
      // icon Chromium looks for beside a plain-text answer (a refusal):
      // the dashboard's pages name theirs.
      const at = m.location() && m.location().url ? m.location().url : '';
      if (m.type() !== 'error' || at.startsWith(evil.origin) || new URL(at || 'about:blank').pathname === '/favicon.ico') return;
      errors.push('console: ' + m.text() + ' at ' + at);
    });
    // Refused answers (401, 403) are expected in some steps, and Chromium
    // reports each as a console error; they are checked by status there.
    const expectedRefusal = (e) => /Failed to load resource: the server responded with a status of 40[13]/.test(e);
    const shot = async (name) => {
      await page.screenshot({path: path.join(cfg.shots, 'signin-' + name + '.png'), fullPage: true});
    };
    const step = (name) => console.log('step: ' + name);

    step('redirect to the login form');
    let res = await page.goto(cfg.dashboard + '/events?status=unplanned');
    let url = new URL(page.url());
    check(url.origin === dash.origin && url.pathname === '/login', 'not redirected to /login: ' + page.url());
    check(url.searchParams.get('next') === '/events?status=unplanned', 'next lost: ' + page.url());
    check(res.status() === 200, 'login page status ' + res.status());
    check(await page.locator('#login-user').isVisible(), 'no user field');
    check(await page.locator('#login-password').isVisible(), 'no password field');
    check(await page.locator('#login-token').count() === 0, 'a token field without a token configured');
    await shot('login');

    step('wrong password');
    await page.fill('#login-user', cfg.user);
    await page.fill('#login-password', cfg.password + '-wrong');
    [res] = await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    check(res.status() === 401, 'wrong password: status ' + res.status());
    const msg = await page.locator('#login-error').textContent();
    check(/Wrong user name or password/.test(msg), 'no error message, got: ' + msg);
    check((await context.cookies()).every((c) => c.name !== 'trackplan_session'), 'a session cookie after a wrong password');
    await shot('login-refused');
    errors = errors.filter((e) => !expectedRefusal(e));

    step('right password');
    await page.fill('#login-user', cfg.user);
    await page.fill('#login-password', cfg.password);
    [res] = await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    url = new URL(page.url());
    check(url.pathname + url.search === '/events?status=unplanned', 'not sent on to next: ' + page.url());
    check(res.status() === 200, 'after sign-in: status ' + res.status());
    const session = (await context.cookies()).find((c) => c.name === 'trackplan_session');
    check(session && session.httpOnly && session.sameSite === 'Lax' && session.expires > Date.now() / 1000,
      'session cookie: ' + JSON.stringify(session));

    for (const p of cfg.pages) {
      step('page ' + p.name);
      res = await page.goto(cfg.dashboard + p.path);
      check(res.status() === 200, p.path + ': status ' + res.status());
      check(new URL(page.url()).pathname === new URL(cfg.dashboard + p.path).pathname, p.path + ': sent to ' + page.url());
      check(await page.locator(p.selector).count() > 0, p.path + ': no ' + p.selector);
      check(await page.locator('a.signout').isVisible(), p.path + ': no sign-out link');
      await shot(p.name);
    }
    check(errors.length === 0, 'errors while browsing:\n' + errors.join('\n'));

    step('forged cross-site sign-out');
    const forged = [];
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url().startsWith(dash.origin)) forged.push(r.status());
    });
    await page.goto(cfg.evil + '/forge-logout');
    await page.waitForURL(dash.origin + '/logout');
    await page.waitForLoadState();
    check(forged.length === 1 && forged[0] === 403, 'forged sign-out answered ' + JSON.stringify(forged));
    res = await page.goto(cfg.dashboard + '/accounts');
    check(res.status() === 200 && new URL(page.url()).pathname === '/accounts', 'the session ended after a forged sign-out: ' + page.url());

    step('forged cross-site sign-in');
    forged.length = 0;
    await page.goto(cfg.evil + '/forge-login');
    await page.waitForURL(dash.origin + '/login');
    await page.waitForLoadState();
    check(forged.length === 1 && forged[0] === 403, 'forged sign-in answered ' + JSON.stringify(forged));
    errors = errors.filter((e) => !expectedRefusal(e));

    step('sign out');
    await page.goto(cfg.dashboard + '/');
    await Promise.all([page.waitForNavigation(), page.click('a.signout')]);
    check(new URL(page.url()).pathname === '/logout', 'the sign-out link went to ' + page.url());
    await shot('logout');
    await Promise.all([page.waitForNavigation(), page.click('#logout-form button[type=submit]')]);
    url = new URL(page.url());
    check(url.pathname === '/login' && (await page.locator('.login-notice').textContent()).includes('signed out'),
      'after sign-out: ' + page.url());
    check((await context.cookies()).every((c) => c.name !== 'trackplan_session'), 'the session cookie is still there');
    res = await page.goto(cfg.dashboard + '/accounts');
    url = new URL(page.url());
    check(url.pathname === '/login' && url.searchParams.get('next') === '/accounts', 'a page after sign-out: ' + page.url());
    check(errors.length === 0, 'errors:\n' + errors.join('\n'));

    step('wrong passwords are throttled');
    // Five failures a minute per client (one already): then 429, even for
    // the right password, with a message saying when to try again.
    let throttled = null;
    for (let i = 0; i < 6 && !throttled; i++) {
      await page.fill('#login-user', cfg.user);
      await page.fill('#login-password', cfg.password + '-guess' + i);
      [res] = await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
      if (res.status() === 429) throttled = res;
      else check(res.status() === 401, 'a wrong password answered ' + res.status());
    }
    check(throttled, 'six wrong passwords in a row were never throttled');
    check(Number(throttled.headers()['retry-after']) > 0, 'no Retry-After on 429');
    check(/Too many failed sign-ins/.test(await page.locator('#login-error').textContent()), 'no throttling message');
    await page.fill('#login-user', cfg.user);
    await page.fill('#login-password', cfg.password);
    [res] = await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    check(res.status() === 429, 'the right password while throttled answered ' + res.status());
    await shot('login-throttled');
    console.log('ok');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
