// A real federation of chimerad processes on 127.0.0.1 for the browser
// tests: free ports, its own cluster key and admin token in a temporary
// folder, each node's log there too. Like tests/support/harness.c, in
// the language the browser tests are written in.
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

// A port nothing listens on now (the kernel's pick, given back at once).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function writeSecret(file) {
  const value = crypto.randomBytes(32).toString('hex');
  fs.writeFileSync(file, value + '\n', { mode: 0o600 });
  return value;
}

// Polls fn (async, truthy when done) until it holds or deadlineMs pass;
// throws naming what was awaited, with the last value seen.
async function waitFor(what, fn, deadlineMs = 15000, everyMs = 100) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function getJson(url, timeoutMs = 2000) {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return r.json();
}

class Federation {
  constructor(chimerad, n = 3) {
    this.chimerad = chimerad;
    this.n = n;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chimera-browser-'));
    this.token = writeSecret(path.join(this.dir, 'admin.token'));
    writeSecret(path.join(this.dir, 'cluster.key'));
    this.nodes = [];
  }

  async start() {
    for (let i = 1; i <= this.n; i++)
      this.nodes.push({ id: `n${i}`, listen: await freePort(), httpPort: await freePort(), proc: null });
    for (const nd of this.nodes) nd.http = `http://127.0.0.1:${nd.httpPort}`;
    this.peers = this.nodes.map((nd) => `${nd.id}=tcp://127.0.0.1:${nd.listen}`).join(',');
    for (const nd of this.nodes) this.startNode(nd);
    await this.waitLeader();
  }

  startNode(nd) {
    const log = fs.openSync(path.join(this.dir, `${nd.id}.log`), 'a');
    nd.proc = spawn(this.chimerad, [
      '--id', nd.id, '--listen', `tcp://127.0.0.1:${nd.listen}`, '--http', `127.0.0.1:${nd.httpPort}`,
      '--peers', this.peers, '--data', path.join(this.dir, nd.id),
      '--cluster-key-file', path.join(this.dir, 'cluster.key'),
      '--admin-token-file', path.join(this.dir, 'admin.token'),
    ], {
      stdio: ['ignore', log, log],
      // Releases run chimera-demo, built beside chimerad (as deploy/run-local.sh does).
      env: { ...process.env, PATH: `${path.dirname(this.chimerad)}:${process.env.PATH}` },
    });
    fs.closeSync(log);
    nd.exited = false;
    nd.proc.on('exit', () => { nd.exited = true; });
  }

  node(id) {
    return this.nodes.find((nd) => nd.id === id);
  }

  // The leader every running node agrees on (its node), once there is one.
  async waitLeader(exceptId = null, deadlineMs = 20000) {
    const id = await waitFor(`a leader${exceptId ? ` other than ${exceptId}` : ''}`, async () => {
      const seen = new Set();
      for (const nd of this.nodes) {
        if (nd.exited || nd.stopped) continue;
        const s = await getJson(`${nd.http}/federation/state`);
        if (!s.leader || s.read_only) return null;
        seen.add(s.leader);
      }
      const [only] = seen;
      return seen.size === 1 && only !== exceptId ? only : null;
    }, deadlineMs);
    return this.node(id);
  }

  kill(nd, signal = 'SIGKILL') {
    if (!nd.exited) nd.proc.kill(signal);
    return new Promise((r) => (nd.exited ? r() : nd.proc.once('exit', r)));
  }

  pause(nd) {
    nd.proc.kill('SIGSTOP');
    nd.stopped = true;
  }

  resume(nd) {
    nd.proc.kill('SIGCONT');
    nd.stopped = false;
  }

  log(nd) {
    try {
      return fs.readFileSync(path.join(this.dir, `${nd.id}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  // Stops every node cleanly (they stop their services), killing one that
  // takes more than 10 s, then whatever service a node killed earlier left.
  async stop(keep) {
    await Promise.all(this.nodes.map(async (nd) => {
      if (nd.exited) return;
      if (nd.stopped) this.resume(nd);
      const t = setTimeout(() => nd.proc.kill('SIGKILL'), 10000);
      await this.kill(nd, 'SIGTERM');
      clearTimeout(t);
    }));
    this.killServices();
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // The services (chimera-demo) of this federation's nodes, found by the
  // mark chimerad puts in their environment: a node killed with -9 leaves
  // its services running (its next start would stop them).
  killServices() {
    const mark = `CHIMERA_SERVICE_OWNER=${fs.realpathSync(this.dir)}/`;
    for (const pid of fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
      let env;
      try {
        env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      } catch {
        continue;
      }
      if (!env.split('\0').some((e) => e.startsWith(mark))) continue;
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

module.exports = { Federation, waitFor, getJson };
