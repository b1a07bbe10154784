// End-to-end test of Restricted Mode in real VS Code (issue 20): workspace
// trust on, a workspace the user has not trusted, the packaged extension and
// the real server.
//
// Run by scripts/test-editors as:
//   NODE_PATH=.test-env/e2e/node_modules CODE_SERVER=… VSIX=… BUILDKIT_LSP=… node tests/e2e/vscode/restricted.js
//
// Workspace: tests/e2e/fixtures/workspace/Dockerfile (three build-check
// warnings, lines 1 and 7) and a .vscode/settings.json that sets
// `buildkit.build.tags` (a restricted configuration) to `hostile:tag`.
// Expected, in Restricted Mode: the extension runs (limited support), the
// three warnings show as squiggles, the line-0 lens reads
// `🔒 Build (Restricted Mode)` — no `▶` lens, and no tag from the
// workspace's settings — and clicking it shows why builds are off with a
// *Manage Workspace Trust* button. Trusting the workspace through that
// button turns the lens into `▶ Build (hostile:tag)` without a server restart
// (the server logs `workspace trusted: builds enabled`, and the channel
// shows one `Starting …` line). Screenshots in TEST_OUTPUT:
// vscode-restricted, -restricted-refusal, -restricted-trusted
// (vscode-restricted-failure.png on error).
'use strict';

const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { repo, log, withVscode, run } = require('./harness');

/** Text of the language server's output channel (its log file). */
function channelText(userData) {
  const found = [];
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        walk(p);
      } else if (/BuildKit Language Server\.log$/.test(e.name)) {
        found.push(fs.readFileSync(p, 'utf8'));
      }
    }
  };
  walk(path.join(userData, 'logs'));
  return found.join('\n');
}

async function waitFor(test, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (test()) {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function main() {
  const started = Date.now();
  const options = {
    name: 'vscode-restricted',
    prepare: (workspace) => {
      fs.copyFileSync(path.join(repo, 'tests/e2e/fixtures/workspace/Dockerfile'), path.join(workspace, 'Dockerfile'));
      fs.mkdirSync(path.join(workspace, '.vscode'));
      fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'buildkit.build.tags': ['hostile:tag'] }, null, 2));
    },
    settings: {
      'security.workspace.trust.enabled': true,
      // Open untrusted without the modal prompt: Restricted Mode.
      'security.workspace.trust.startupPrompt': 'never',
      'buildkit.logLevel': 'debug',
    },
  };
  await withVscode(options, async ({ page, userData, outDir }) => {
    let t = Date.now();
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^Dockerfile$/ });
    await row.first().waitFor({ timeout: 60000 });
    await row.first().click();
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
    // VS Code says it is in Restricted Mode (status bar item).
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30000 });

    // Analysis works: the three warnings of the fixture.
    await page.waitForFunction(() => document.querySelectorAll('.monaco-editor .squiggly-warning').length >= 3, null, { timeout: 60000 });
    log(`Restricted Mode: ${await page.locator('.monaco-editor .squiggly-warning').count()} warning squiggles after ${Date.now() - t} ms`);
    // VS Code writes the output channel's log file on its own schedule: the
    // server may have said it long before the file shows it.
    await waitFor(() => /workspace not trusted \(Restricted Mode\)/.test(channelText(userData)), 'the server to be told the workspace is not trusted', 20000);

    // The build lens says it is off; no ▶ lens, no tag from the workspace settings.
    const locked = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^🔒 Build \(Restricted Mode\)$/ });
    await locked.first().waitFor({ timeout: 30000 });
    const titles = await page.locator('.monaco-editor .codelens-decoration a').allInnerTexts();
    log(`lenses in Restricted Mode: ${JSON.stringify(titles)}`);
    assert.ok(!titles.some((l) => l.startsWith('▶')), `no build lens runs in Restricted Mode: ${JSON.stringify(titles)}`);
    assert.ok(!titles.some((l) => l.includes('hostile:tag')), `the workspace's build settings are ignored: ${JSON.stringify(titles)}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-restricted.png') });

    // Clicking it says why, and how to trust.
    t = Date.now();
    await locked.first().click();
    const refusal = page.locator('.notification-list-item', { hasText: 'Building is off in Restricted Mode' });
    await refusal.first().waitFor({ timeout: 20000 });
    const refusalText = await refusal.first().innerText();
    assert.ok(refusalText.includes('Manage Workspace Trust'), `the message offers the trust editor: ${refusalText}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-restricted-refusal.png') });
    assert.strictEqual(channelText(userData).match(/Building Dockerfile on/g), null, 'no build started');
    log(`refusal shown after ${Date.now() - t} ms`);

    // Trust the workspace from the message's button.
    t = Date.now();
    await refusal.first().locator('.monaco-button, a', { hasText: 'Manage Workspace Trust' }).first().click();
    const trustButton = page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ });
    await trustButton.first().waitFor({ timeout: 20000 });
    await trustButton.first().click();
    await waitFor(() => /workspace trusted: builds enabled/.test(channelText(userData)), 'the server to be told the workspace is trusted', 20000);
    log(`trusted after ${Date.now() - t} ms`);

    // Back to the Dockerfile: the lens builds now, with the workspace's tags.
    await page.locator('.tabs-container .tab', { hasText: 'Dockerfile' }).first().click();
    const buildLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^▶ Build \(hostile:tag\)$/ });
    await buildLens.first().waitFor({ timeout: 30000 });
    await page.screenshot({ path: path.join(outDir, 'vscode-restricted-trusted.png') });
    // The extension writes one `Starting …` line per server start.
    const starts = channelText(userData).match(/^Starting .* \(found via \w+\)$/gm) || [];
    assert.strictEqual(starts.length, 1, `one server for the whole test (no restart): ${starts.length}`);
    log(`PASS vscode restricted-mode e2e in ${Date.now() - started} ms; screenshots in ${outDir}`);
  });
}

run(main);
