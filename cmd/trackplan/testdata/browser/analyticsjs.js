// Sends calls through analytics.js 2.0 (@segment/analytics-next's UMD
// bundle) from a page of another origin to collectors, in headless
// Chromium, and prints as JSON what the browser saw of each run: every POST
// to the collector with its answer, the CORS preflights, failed requests,
// requests that left the test servers, page errors, console errors, and the
// library's delivery errors of each call. The runs go side by side, each in
// a browser context of its own.
//
// Its one argument is a JSON object:
//   page       the page's URL; it loads the bundle as window.AnalyticsNext
//   writeKey   the source's write key
//   calls      [{type, id, name, category, props}], sent in order
//   timeoutMs  how long a run may wait for its requests, in all
//   runs       [{name, apiHost, strategy, batchSize, batchTimeout, expect}]:
//     apiHost       the Segment.io integration's apiHost (host:port/v1)
//     strategy      "standard" (a request per call) or "batching"
//     batchSize     with batching: events per request
//     batchTimeout  with batching: ms before a smaller batch is sent
//     together      send the calls at once instead of one after the other
//     expect        "delivered" (wait until every call is answered 2xx,
//                   and the library's counters once) or "refused" (wait
//                   until every call's request has failed)
// It prints {name: report} for the runs.
'use strict';

const {chromium} = require('playwright-core');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const browser = await chromium.launch(JSON.parse(process.env.LAUNCH_OPTIONS));
  const reports = {};
  try {
    await Promise.all(cfg.runs.map(async (r) => {
      reports[r.name] = await send(browser, {...cfg, ...r});
    }));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(reports) + '\n');
}

// send makes the calls of one run and reports what the browser saw.
async function send(browser, cfg) {
  const deadline = Date.now() + cfg.timeoutMs;
  const api = new URL(`http://${cfg.apiHost}`);
  const pageOrigin = new URL(cfg.page).origin;
  const seen = {sent: [], posts: [], metrics: [], preflights: [], failed: [], offsite: [], pageErrors: [], consoleErrors: [], title: ''};
  // The library's own counters go to {apiHost}/m.
  const isMetrics = (url) => new URL(url).pathname.endsWith('/m');
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(cfg.timeoutMs);
    page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') seen.consoleErrors.push(m.text());
    });
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin !== api.origin && u.origin !== pageOrigin) seen.offsite.push(r.url());
    });
    page.on('requestfailed', (r) => {
      if (r.url().startsWith(api.origin) && !isMetrics(r.url())) {
        seen.failed.push({path: new URL(r.url()).pathname, error: r.failure() ? r.failure().errorText : ''});
      }
    });
    page.on('response', async (res) => {
      const req = res.request();
      if (req.method() !== 'POST' || !req.url().startsWith(api.origin)) return;
      if (isMetrics(req.url())) {
        seen.metrics.push({status: res.status(), allowOrigin: (await res.headerValue('access-control-allow-origin')) || ''});
        return;
      }
      const post = {path: new URL(req.url()).pathname, status: res.status(), events: 0};
      seen.posts.push(post);
      let body = {};
      try {
        body = JSON.parse(req.postData() || '{}');
      } catch (e) {
        post.badBody = String(e);
      }
      post.events = Array.isArray(body.batch) ? body.batch.length : 1;
      post.bodyWriteKey = body.writeKey === cfg.writeKey;
      const headers = await req.allHeaders();
      post.contentType = headers['content-type'] || '';
      post.authorization = headers['authorization'] === 'Basic ' + Buffer.from(cfg.writeKey + ':').toString('base64');
      post.retryCount = headers['x-retry-count'] || '';
      post.allowOrigin = (await res.headerValue('access-control-allow-origin')) || '';
    });
    // Playwright's own events leave out CORS preflights; DevTools reports
    // their answers as responses of type Preflight.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', (e) => {
      if (e.type === 'Preflight' && e.response.url.startsWith(api.origin)) {
        seen.preflights.push({path: new URL(e.response.url).pathname, status: e.response.status});
      }
    });

    await page.goto(cfg.page);
    await page.evaluate(async (cfg) => {
      // The API host in the load options, as Segment documents it for a
      // proxy; the source's settings inline, not fetched from Segment's
      // CDN, with every session sampled for the library's counters,
      // flushed every 200 ms.
      const segmentio = {apiHost: cfg.apiHost, protocol: 'http'};
      if (cfg.strategy === 'batching') {
        segmentio.deliveryStrategy = {strategy: 'batching', config: {size: cfg.batchSize, timeout: cfg.batchTimeout}};
      }
      const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load(
        {
          writeKey: cfg.writeKey,
          cdnSettings: {integrations: {'Segment.io': {apiKey: cfg.writeKey}}, metrics: {sampleRate: 1, flushTimer: 200}},
        },
        {integrations: {'Segment.io': segmentio}, disableClientPersistence: true},
      );
      const call = (c) => {
        switch (c.type) {
          case 'identify': return analytics.identify(c.id, c.props);
          case 'group': return analytics.group(c.id, c.props);
          case 'track': return analytics.track(c.name, c.props);
          case 'page': return analytics.page(c.category, c.name, c.props);
        }
        throw new Error('unknown call type ' + c.type);
      };
      // Each call waits for the one before (its request answered), or
      // all go at once.
      const contexts = [];
      for (const c of cfg.calls) {
        contexts.push(cfg.together ? call(c) : await call(c));
      }
      const sent = await Promise.all(contexts);
      window.sentContexts = cfg.calls.map((c, i) => ({type: c.type, name: c.name || '', ctx: sent[i]}));
    }, cfg);

    const delivered = () => seen.posts.filter((p) => p.status >= 200 && p.status < 300).reduce((n, p) => n + p.events, 0);
    for (;;) {
      if (cfg.expect === 'delivered' && delivered() >= cfg.calls.length && seen.metrics.length > 0) break;
      if (cfg.expect === 'refused' && seen.failed.length >= cfg.calls.length) break;
      if (Date.now() > deadline) {
        seen.timedOut = true;
        break;
      }
      await sleep(50);
    }
    // What the library made of each call (its delivery errors, retried
    // or not); and the page lives on after what it sent was refused.
    seen.sent = await page.evaluate(() => window.sentContexts.map(({type, name, ctx}) => {
      const failed = ctx.failedDelivery();
      return {
        type, name,
        failed: failed ? String(failed.reason) : '',
        errors: ctx.logs().filter((l) => l.level === 'error').map((l) => l.message + ': ' + String(l.extras)),
      };
    }));
    seen.title = await page.evaluate(() => document.title);
  } finally {
    await context.close();
  }
  return seen;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
