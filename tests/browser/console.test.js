// The console in a real browser (README "Console"): headless Chromium
// (Debian's /usr/bin/chromium) driven by playwright-core, on a real 3-node
// federation of chimerad processes on 127.0.0.1. Each step waits on what the
// page shows, with a deadline; none sleeps and hopes.
//
//   node console.test.js CHIMERAD SCREENSHOT_DIR
//
// Exit status: 0 passed, 1 failed. run.sh decides whether to run at all.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { Federation, waitFor } = require('./federation');

const CHROMIUM = process.env.CHIMERA_CHROMIUM || '/usr/bin/chromium';
const DEADLINE_MS = 15000;
const [chimerad, shots] = process.argv.slice(2);
if (!chimerad || !shots) {
  console.error('usage: node console.test.js CHIMERAD SCREENSHOT_DIR');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

let fed, browser, page;
const pageErrors = [];
let passed = 0;

async function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`[ RUN  ] ${name}\n`);
  await fn();
  passed++;
  process.stdout.write(`[  OK  ] ${name} (${Date.now() - t0} ms)\n`);
}

// A screenshot for people to look at: one that cannot be taken (a renderer
// starved of CPU on a loaded machine) is reported, not a failure of what
// the page was checked to show.
async function shot(name) {
  const file = path.join(shots, `${name}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled', timeout: 60000 });
    console.log(`         screenshot ${file}`);
  } catch (e) {
    console.log(`         no screenshot ${file}: ${e.message.split('\n')[0]}`);
  }
}

// Waits until fn, run in the page, returns something truthy.
async function until(what, fn, arg, deadlineMs = DEADLINE_MS) {
  try {
    const h = await page.waitForFunction(fn, arg, { timeout: deadlineMs, polling: 100 });
    return h.jsonValue();
  } catch (e) {
    throw new Error(`the page did not show ${what} within ${deadlineMs} ms (${e.message.split('\n')[0]})`);
  }
}

const text = (sel) => page.locator(sel).innerText();

async function setToken(token) {
  await page.click('#token-button');
  await page.fill('#token-input', token);
  await page.click('#token-ok');
}

// body (a string) to whichever node leads now, with the admin token: its
// JSON answer, which must have status want, and the node that answered. A
// 307 is followed by hand: fetch drops the token on a redirect to another
// origin.
async function toLeader(what, body, want) {
  let url = `${(await fed.waitLeader()).http}${what}`;
  for (let hops = 0; hops < 3; hops++) {
    const r = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { Authorization: `Bearer ${fed.token}`, 'Content-Type': 'application/json' },
      body,
    });
    if (r.status === want) {
      const origin = new URL(url).origin;
      return { answer: await r.json(), node: fed.nodes.find((nd) => new URL(nd.http).origin === origin) };
    }
    if (r.status !== 307) throw new Error(`POST ${url} answered ${r.status}: ${await r.text()}`);
    url = r.headers.get('location');
  }
  throw new Error(`POST ${what}: redirected too often`);
}

// The page's node: the member whose console the page shows.
function servingNode() {
  const origin = new URL(page.url()).origin;
  return fed.nodes.find((nd) => new URL(nd.http).origin === origin);
}

// Until the page and the federation agree on a leader other than notId: its node.
async function pageShowsLeader(notId = null, deadlineMs = DEADLINE_MS) {
  return waitFor(`the page and the federation agreeing on a leader${notId ? ` other than ${notId}` : ''}`, async () => {
    const shown = await page.locator('#leader-id').innerText();
    const nd = await fed.waitLeader(notId, 2000).catch(() => null);
    return nd && shown === nd.id ? nd : null;
  }, deadlineMs);
}

// The page on the leader's console (a leader may change under a loaded
// machine: each try goes to the one of the moment), with the admin token.
async function onLeaderConsole() {
  const l = await fed.waitLeader();
  if (servingNode() !== l) {
    await page.goto(`${l.http}/ui/`);
    await until('the console loaded', () => document.querySelectorAll('#members article').length === 3);
  }
  // (a console whose tab was given the wrong token earlier still has it)
  if ((await page.evaluate(() => sessionStorage.getItem('chimera.adminToken'))) !== fed.token) await setToken(fed.token);
}

// Clicks an action's button on the leader's console until the result is
// not "not the leader" (at most 5 tries); the result's text.
async function actOnLeader(button, result) {
  for (let tries = 0; tries < 5; tries++) {
    await onLeaderConsole();
    await page.click(button);
    const t = await until(`the answer in ${result}`, (id) => {
      const r = document.getElementById(id);
      return !r.hidden && !r.classList.contains('info') && r.textContent;
    }, result.slice(1));
    if (!/is not the leader/.test(t)) return t;
    console.log(`         ${servingNode().id} was not the leader any more: ${t}`);
  }
  throw new Error(`${button}: the leader kept changing`);
}

async function main() {
  fed = new Federation(chimerad, 3);
  await fed.start();
  const first = await fed.waitLeader();
  const follower = fed.nodes.find((nd) => nd !== first);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // As root, without a sandbox; with no connection of its own to anywhere
    // (the machine's network is closed: Chromium's background requests fail).
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => d.accept()); // Roll back asks "are you sure?"
  page.on('framenavigated', (f) => f === page.mainFrame() && console.log(`         [${new Date().toISOString()}] the page is at ${f.url()}`));
  page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) &&
    pageErrors.push(`console: ${m.text()}`));

  let leader;
  await step(`the console of ${follower.id} shows three members and the leader`, async () => {
    await page.goto(`${follower.http}/ui/`);
    await until('three member cards', () => document.querySelectorAll('#members article').length === 3);
    leader = await pageShowsLeader();
    const role = await page.getAttribute(`#members article[data-node="${leader.id}"]`, 'data-role');
    if (role !== 'leader') throw new Error(`${leader.id}'s card says role ${role}`);
    await until('the live stream connected (GET /events/stream)', () => document.getElementById('conn-text').textContent === 'live');
    await shot('01-members');
  });

  await step('the kill switch with a wrong token shows the 403 and its message', async () => {
    await setToken('not-the-admin-token');
    await page.click('#chaos-stop');
    await until('the 403', () => /403: wrong admin token/.test(document.getElementById('chaos-result').textContent));
    const stored = await page.evaluate(() => sessionStorage.getItem('chimera.adminToken'));
    if (stored !== 'not-the-admin-token') throw new Error('the token is not in sessionStorage');
    if (/not-the-admin-token/.test(page.url())) throw new Error('the token is in the URL');
    await shot('02-wrong-token');
  });

  await step('the refused request appears in the live feed (api.auth_failure)', async () => {
    await until('api.auth_failure in the feed', () => !!document.querySelector('#events li[data-kind="api.auth_failure"]'));
  });

  await step('kill -9 of the leader: the page shows the new leader without a reload', async () => {
    let old = await pageShowsLeader();
    if (old === servingNode()) { // leadership moved to the page's node meanwhile
      await page.goto(`${fed.nodes.find((nd) => nd !== old).http}/ui/`);
      old = await pageShowsLeader();
    }
    await page.evaluate(() => { window.notReloaded = true; });
    const t0 = Date.now();
    await fed.kill(old);
    const now = await pageShowsLeader(old.id);
    console.log(`         the page showed ${now.id} as the leader after ${old.id} ${Date.now() - t0} ms after the kill`);
    if (!(await page.evaluate(() => window.notReloaded))) throw new Error('the page was reloaded');
    await until(`${old.id} shown not alive`,
      (gone) => document.querySelector(`#members article[data-node="${gone}"]`).dataset.status !== 'alive',
      old.id);
    await shot('03-new-leader');
    fed.startNode(old); // back, for the steps below
    await until('three members alive again', () => /3 of 3 alive/.test(document.getElementById('members-summary').textContent), undefined, 30000);
  });

  await step('on the leader\'s console the kill switch with the right token succeeds', async () => {
    const t = await actOnLeader('#chaos-stop', '#chaos-result');
    if (!/Chaos stopped everywhere/.test(t)) throw new Error(`the page says: ${t}`);
    await until('the kill switch shown on', () => /on: chaos stopped/.test(document.getElementById('chaos-state').textContent));
    await shot('04-kill-switch');
  });

  await step('a note posted appears in the leader\'s feed and ledger, without a reload', async () => {
    await onLeaderConsole();
    await page.evaluate(() => { window.notReloaded = true; });
    const note = `browser test note ${Date.now()}`;
    const { answer, node } = await toLeader('/ledger/notes', JSON.stringify({ note }), 201);
    const at = answer.first_index;
    const moved = node !== servingNode(); // the leader changed meanwhile: its feed has the event
    if (moved) {
      console.log(`         ${node.id} took the note: its console`);
      await page.goto(`${node.http}/ui/`);
    }
    await until(`ledger.notes_appended for index ${at} in the feed`,
      (i) => [...document.querySelectorAll('#events li[data-kind="ledger.notes_appended"] .message')]
        .some((m) => m.textContent.includes(`index ${i}..${i}`)), at);
    await until('the note among the ledger entries',
      (n) => [...document.querySelectorAll('#ledger-entries td.data')].some((td) => td.textContent === n), note);
    if (!moved && !(await page.evaluate(() => window.notReloaded))) throw new Error('the page was reloaded');
    await shot('05-note');
  });

  await step('a release deployed shows its stages and each node\'s health; Roll back shows the API\'s 409', async () => {
    const manifest = fs.readFileSync(path.join(__dirname, '../../deploy/examples/demo-good.json'), 'utf8');
    const { id } = (await toLeader('/deployments', manifest, 202)).answer;
    // Only the leader hears every node's health: on its console (the one of
    // the moment: a leader may change under a loaded machine).
    await waitFor(`the leader's console showing deployment ${id} stable on three healthy nodes`, async () => {
      await onLeaderConsole();
      return page.evaluate((d) => {
        const b = document.querySelector(`#deployments tr[data-id="${d}"] .badge`);
        const healthy = [...document.querySelectorAll('#deploy-detail tr[data-node] .badge')]
          .filter((h) => h.textContent === 'healthy').length;
        return b && b.textContent === 'stable' && healthy === 3;
      }, id);
    }, 60000, 250);
    const t = await actOnLeader('#rollback', '#deploy-result');
    if (!/^409: \S/.test(t)) throw new Error(`the page says: ${t}`);
    await shot('06-deployment');
  });

  await step('a drill recorded shows with its times to detect and to recover', async () => {
    await onLeaderConsole();
    const now = Date.now();
    await toLeader('/drills', JSON.stringify({
      title: 'browser test drill', verdict: 'held', digest: '0'.repeat(64), started_ms: now - 20000, ended_ms: now,
      faults: [{ name: 'kill the leader', kind: 'kill_node', target: 'n1', time_to_detect_ms: 420,
        time_to_recover_ms: 1830, slo_ms: 5000, met: true }],
    }), 201);
    // Its times as chimeractl and a drill file write them (detected in,
    // recovered in, SLO), the drill's length too.
    const shown = await until('the drill and its times', () => {
      const d = [...document.querySelectorAll('#drills .drill')].find((x) => /browser test drill/.test(x.textContent));
      return d && {
        cells: [...d.querySelectorAll('tbody td')].slice(2, 5).map((td) => td.textContent),
        head: d.querySelector('.drill-head .muted').textContent,
      };
    });
    if (shown.cells.join(' ') !== '420ms 1s830ms 5s') throw new Error(`the drill's times read ${shown.cells.join(', ')}`);
    if (!/ · took 20s$/.test(shown.head)) throw new Error(`the drill's head reads ${shown.head}`);
    await shot('07-drill');
  });

  const serving = servingNode();
  const others = fed.nodes.filter((nd) => nd !== serving);
  await step(`${serving.id} cut off (the two others stopped): the read-only banner`, async () => {
    for (const nd of others) fed.pause(nd);
    await until('the read-only banner', () => !document.getElementById('banner-readonly').hidden);
    const t = await text('#banner-readonly');
    if (!/minority/.test(t)) throw new Error(`banner says: ${t}`);
    await shot('08-read-only');
    for (const nd of others) fed.resume(nd);
    await until('the banner gone', () => document.getElementById('banner-readonly').hidden, undefined, 30000);
  });

  await step(`${serving.id}, the node serving the page, killed: the page says so and moves to another member`, async () => {
    await until('three members alive', () => /3 of 3 alive/.test(document.getElementById('members-summary').textContent), undefined, 30000);
    console.log(`         [${new Date().toISOString()}] killing ${serving.id}`);
    await fed.kill(serving);
    await until('the node-lost banner', () => !document.getElementById('banner-lost').hidden &&
      document.body.classList.contains('stale'));
    const t = await text('#banner-lost');
    if (!t.includes(`${serving.id}`) || !/not answering/.test(t)) throw new Error(`banner says: ${t}`);
    await shot('09-serving-node-lost');
    const origins = others.map((nd) => new URL(nd.http).origin);
    await page.waitForURL((u) => origins.includes(u.origin), { timeout: DEADLINE_MS });
    await until('the other member\'s console', () => document.querySelectorAll('#members article').length === 3 &&
      !document.getElementById('banner-switched').hidden);
    await shot('10-switched');
  });

  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join('; ')}`);
}

// Killed (CTest's timeout, ^C), or an error thrown outside the steps (a
// page event's handler): the federation and its services go too.
for (const sig of ['SIGTERM', 'SIGINT', 'uncaughtException', 'unhandledRejection']) {
  process.once(sig, async (e) => {
    console.error(`[ FAIL ] ${sig}${e && e.message ? `: ${e.message}` : ''}: stopping the federation`);
    if (browser) await browser.close().catch(() => {});
    if (fed) await fed.stop(false);
    process.exit(1);
  });
}

main()
  .then(async () => {
    console.log(`${passed} steps passed`);
    await browser.close();
    await fed.stop(false);
    process.exit(0);
  })
  .catch(async (e) => {
    console.error(`[ FAIL ] ${e.stack || e.message}`);
    if (page) await shot('failure');
    if (browser) await browser.close().catch(() => {});
    if (fed) {
      for (const nd of fed.nodes) console.error(`--- the end of ${nd.id}'s log ---\n${fed.log(nd).split('\n').slice(-15).join('\n')}`);
      await fed.stop(false);
    }
    process.exit(1);
  });
