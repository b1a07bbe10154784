// Shared set-up of the VS Code end-to-end tests (test.js, builds.js): install
// the packaged .vsix into a fresh extensions dir, start code-server on
// 127.0.0.1 (auth none, fresh user-data dir, HOME/XDG in a temp folder) on a
// workspace, and open it in Debian's headless Chromium through
// playwright-core. Paths come from the environment scripts/test-editors sets
// (CODE_SERVER, VSIX, BUILDKIT_LSP, CHROMIUM, TEST_OUTPUT).
'use strict';

const assert = require('node:assert');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const repo = path.resolve(__dirname, '..', '..', '..');
const codeServer = process.env.CODE_SERVER || path.join(repo, '.test-env/code-server/node_modules/.bin/code-server');
const vsix = process.env.VSIX || path.join(repo, 'editors/vscode/buildkit-lsp.vsix');
const server = path.resolve(process.env.BUILDKIT_LSP || path.join(repo, 'target/debug/buildkit-lsp'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const outDir = process.env.TEST_OUTPUT || path.join(repo, 'test-output');

const started = Date.now();
function log(message) {
  process.stderr.write(`[vscode-e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForOutput(child, pattern, timeoutMs, transcript) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not print ${pattern} within ${timeoutMs} ms:\n${transcript.join('')}`)), timeoutMs);
    const onData = (chunk) => {
      transcript.push(chunk.toString());
      if (pattern.test(transcript.join(''))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code}:\n${transcript.join('')}`));
    });
  });
}

/** Copies a folder recursively (fixtures into the temp workspace). */
function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      copyTree(src, dst);
    } else {
      fs.copyFileSync(src, dst);
    }
  }
}

// Settings every test starts with: the server under test, and no UI that
// could cover what the tests look at.
const BASE_SETTINGS = {
  'buildkit.server.path': server,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'editor.minimap.enabled': false,
  // The sticky-scroll header repeats line 1 with its squiggles.
  'editor.stickyScroll.enabled': false,
};

/**
 * Runs `body({ page, tmp, workspace, userData, log, outDir })` in a fresh
 * code-server + Chromium. `prepare(workspace)` fills the workspace folder;
 * `settings` are merged over BASE_SETTINGS; `env` (an object, or a function
 * of the temp folder giving one) is added to code-server's environment (the
 * extension host and the language server inherit it).
 * A screenshot `<name>-failure.png` is taken when body throws; temp folders
 * are removed after a pass and kept (and named in the log) after a failure.
 */
async function withVscode({ name, prepare, settings = {}, env: extraEnv = {} }, body) {
  for (const [what, file] of [['code-server', codeServer], ['vsix', vsix], ['server', server], ['chromium', chromiumPath]]) {
    assert.ok(fs.existsSync(file), `${what} not found at ${file}`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const failureShot = path.join(outDir, `${name}-failure.png`);
  fs.rmSync(failureShot, { force: true });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bk-${name}-`));
  const userData = path.join(tmp, 'user-data');
  const extensions = path.join(tmp, 'extensions');
  const workspace = path.join(tmp, 'workspace');
  const profile = path.join(tmp, 'chromium-profile');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  prepare(workspace, tmp);
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({ ...BASE_SETTINGS, ...settings }, null, 2));
  // Keep code-server away from the user's ~/.config and ~/.local.
  const env = {
    ...process.env,
    HOME: tmp,
    XDG_CONFIG_HOME: path.join(tmp, 'config'),
    XDG_DATA_HOME: path.join(tmp, 'data'),
    ...(typeof extraEnv === 'function' ? extraEnv(tmp) : extraEnv),
  };
  const configFile = path.join(tmp, 'code-server.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const common = ['--config', configFile, '--user-data-dir', userData, '--extensions-dir', extensions];

  let t = Date.now();
  const installOut = execFileSync(codeServer, [...common, '--install-extension', vsix], { env, encoding: 'utf8' });
  log(`install-extension (${Date.now() - t} ms): ${installOut.trim().split('\n').pop()}`);
  assert.match(installOut, /successfully installed/);
  const installed = fs.readdirSync(extensions).filter((d) => d.startsWith('buildkit-lsp.buildkit-lsp-'));
  assert.deepStrictEqual(installed, ['buildkit-lsp.buildkit-lsp-0.1.0'], 'extension folder in the fresh extensions dir');

  const port = await freePort();
  const transcript = [];
  const cs = spawn(
    codeServer,
    [
      ...common,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      // Workspace trust stays on only for a test that enables it (restricted.js).
      ...(settings['security.workspace.trust.enabled'] ? [] : ['--disable-workspace-trust']),
      '--disable-getting-started-override',
      workspace,
    ],
    { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let browser;
  let page;
  let passed = false;
  try {
    t = Date.now();
    await waitForOutput(cs, /HTTP server listening on/, 60000, transcript);
    log(`code-server listening on ${port} after ${Date.now() - t} ms`);

    browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 900 },
    });
    page = browser.pages()[0] || (await browser.newPage());
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        log(`browser console: ${msg.text().slice(0, 300)}`);
      }
    });

    t = Date.now();
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    log(`workbench after ${Date.now() - t} ms`);
    await body({ page, tmp, workspace, userData, log, outDir });
    passed = true;
  } catch (err) {
    // What the editor showed when it failed is the first thing to look at.
    if (page) {
      await page.screenshot({ path: failureShot }).catch(() => {});
    }
    throw err;
  } finally {
    if (browser) {
      await browser.close().catch(() => {});
    }
    try {
      process.kill(-cs.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    fs.writeFileSync(path.join(outDir, `${name}-code-server.log`), transcript.join(''));
    if (passed) {
      // Kept after a failure: the user-data dir holds the extension host logs.
      await new Promise((r) => setTimeout(r, 500));
      fs.rmSync(tmp, { recursive: true, force: true });
    } else {
      log(`user-data, extensions and workspace kept in ${tmp}`);
    }
  }
}

/** Runs main and exits 0 on success, 1 with the error on failure. */
function run(main) {
  main().then(
    () => process.exit(0),
    (err) => {
      log(`FAIL: ${err && err.stack ? err.stack : err}`);
      process.exit(1);
    },
  );
}

module.exports = { repo, server, outDir, log, copyTree, withVscode, run };
