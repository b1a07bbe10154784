// End-to-end test of builder selection and builds in real VS Code (issue 7):
// code-server with the packaged extension, Debian's headless Chromium, the
// real server and the test Docker Engine (docker driver).
//
// Run by scripts/test-editors as:
//   NODE_PATH=.test-env/e2e/node_modules CODE_SERVER=… VSIX=… BUILDKIT_LSP=… node tests/e2e/vscode/builds.js
//
// Fixture tests/e2e/fixtures/build (copied to a temp workspace with a fresh
// nonce.txt, so the RUN step is never cached; DOCKER_CONFIG points to an
// empty folder, so the only builder is the docker context's `default`):
//   Dockerfile       line 1 FROM busybox:test AS build … RUN prints `built <nonce> 42`
//   docker-bake.hcl  target "cache" exports a registry cache from stage build
//   fail/Dockerfile  line 3 RUN exit 3
// Steps and expected values (by hand from the protocol): the status bar shows
// `⚒ default (docker)`; its quick pick offers `default` with
// `docker, running — selected, buildx default`; after choosing it the docker
// driver's missing cache export (a build buildx refuses) shows as an error
// squiggle and a Problems entry BuilderCacheExport on line 1; the "▶ Build" lens shows the progress
// `Building … on default (docker)` in the status bar (cancellable in the
// notification), the "BuildKit" output channel gets the RUN output and ends
// with `Built … on default (docker) …`, the server's message says `Built …
// on default …`; fail/Dockerfile's lens ends in a
// BuildFailed error at [Ln 3, Col 1] with exit code 3; a restarted server
// gets the remembered builder as initializationOptions.builder.
// The bake file shows `▶ Bake target app|cache` lenses and BuilderCacheExport
// at [Ln 16, Col 3] (its cache-to attribute).
// Screenshots in TEST_OUTPUT: vscode-builds-picker, -warning, -progress,
// -done, -failed, -bake (vscode-builds-failure.png on error).
'use strict';

const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { repo, log, copyTree, withVscode, run } = require('./harness');

// The server commands each part of this test needs (the protocol of issue 7).
const SELECTION_COMMANDS = ['buildkit.listBuilders', 'buildkit.useBuilder'];
const BUILD_COMMANDS = ['buildkit.build', 'buildkit.cancelBuild'];

/** Fails naming the commands the initialize result (in the trace) does not advertise. */
function requireCommands(trace, wanted) {
  const missing = wanted.filter((c) => !trace.includes(`"${c}"`));
  assert.deepStrictEqual(missing, [], `server feature missing: ${missing.join(', ')} not advertised in executeCommandProvider`);
}

/** Files under dir (recursively) whose base name matches re. */
function findFiles(dir, re) {
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
      } else if (re.test(e.name)) {
        found.push(p);
      }
    }
  };
  walk(dir);
  return found;
}

/** Waits until the text of the output-channel log file named re satisfies test; returns it. */
async function waitForChannelFile(userData, re, test, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = findFiles(path.join(userData, 'logs'), re)
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    if (test(text)) {
      return text;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; channel files say:\n${text.slice(-3000)}`);
}

async function runPaletteCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10000 });
  await input.fill(`>${title}`);
  // The row whose label is exactly the title (others match the filter too).
  const row = page.locator('.quick-input-widget .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });
  await row.first().waitFor({ timeout: 10000 });
  await row.first().click();
}

async function main() {
  const started = Date.now();
  const nonce = `${Date.now().toString(16)}${Math.floor(Math.random() * 0xffffff).toString(16)}`;
  const options = {
    name: 'vscode-builds',
    prepare: (workspace, tmp) => {
      copyTree(path.join(repo, 'tests/e2e/fixtures/build'), workspace);
      fs.writeFileSync(path.join(workspace, 'nonce.txt'), `${nonce}\n`);
      fs.mkdirSync(path.join(tmp, 'docker-config'), { recursive: true });
    },
    // verbose: the initialize params (initializationOptions) reach the channel's log file.
    settings: { 'buildkit.trace.server': 'verbose' },
    env: (tmp) => ({ DOCKER_CONFIG: path.join(tmp, 'docker-config') }),
  };
  await withVscode(options, async ({ page, userData, workspace, outDir }) => {
    let t = Date.now();
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^Dockerfile$/ });
    await row.first().waitFor({ timeout: 60000 });
    await row.first().click();
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });

    // The server's command list (the trace shows the initialize result).
    const trace = await waitForChannelFile(userData, /^\d+-BuildKit Language Server\.log$/, (s) => s.includes('executeCommandProvider'), 'the initialize result', 30000);
    requireCommands(trace, SELECTION_COMMANDS);

    // Status bar item from buildkit.listBuilders at start.
    const status = page.locator('.statusbar-item', { hasText: '⚒ default (docker)' });
    await status.first().waitFor({ timeout: 30000 });
    log(`status bar "⚒ default (docker)" ${Date.now() - t} ms after opening the Dockerfile`);

    // Quick pick from the status item → buildkit.useBuilder default.
    t = Date.now();
    await status.first().click();
    const pickRow = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'default' });
    await pickRow.first().waitFor({ timeout: 20000 });
    const rows = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts();
    log(`builder quick pick: ${JSON.stringify(rows)}`);
    assert.strictEqual(rows.length, 1, `one builder offered: ${JSON.stringify(rows)}`);
    assert.ok(rows[0].includes('docker, running — selected, buildx default'), `quick pick row: ${rows[0]}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-builds-picker.png') });
    await pickRow.first().click();

    // The capability finding: squiggle and Problems entry on line 1; an
    // error, since buildx refuses such a build on the docker driver.
    await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 30000 });
    await page.keyboard.press('Control+Shift+M');
    const panel = page.locator('.markers-panel');
    await panel.waitFor({ timeout: 20000 });
    const warning = panel.locator('.monaco-list-row', { hasText: 'BuilderCacheExport' });
    await warning.first().waitFor({ timeout: 30000 });
    const warningText = await warning.first().innerText();
    log(`capability warning ${Date.now() - t} ms after opening the picker: ${JSON.stringify(warningText)}`);
    assert.ok(warningText.includes('not supported for the docker driver'), `BuilderCacheExport message: ${warningText}`);
    assert.ok(warningText.includes('buildkit-lsp'), `BuilderCacheExport source: ${warningText}`);
    assert.ok(warningText.includes('[Ln 1, Col '), `BuilderCacheExport on line 1: ${warningText}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-builds-warning.png') });

    // *BuildKit: Build* offers the document's build lenses (the server's
    // targets) in a quick pick; dismissed here.
    await runPaletteCommand(page, 'BuildKit: Build');
    const targetRow = page.locator('.quick-input-widget .monaco-list-row', { hasText: '▶ Build stage final' });
    await targetRow.first().waitFor({ timeout: 20000 });
    const targets = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts();
    assert.deepStrictEqual(targets, ['▶ Build (buildkit-lsp-e2e:dev)', '▶ Build stage build', '▶ Build stage final'], 'targets offered by BuildKit: Build');
    await page.keyboard.press('Escape');
    await targetRow.first().waitFor({ state: 'hidden', timeout: 10000 });

    // The ⚒ lens opens the extension's quick pick (the middleware takes
    // buildkit.selectBuilder from the server's showMessageRequest).
    await page.locator('.monaco-editor .codelens-decoration a', { hasText: '⚒ default (docker)' }).first().click();
    await pickRow.first().waitFor({ timeout: 20000 });
    const lensPick = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts();
    assert.deepStrictEqual(lensPick, rows, 'the ⚒ lens offers the same quick pick');
    await page.keyboard.press('Escape');
    await pickRow.first().waitFor({ state: 'hidden', timeout: 10000 });

    // Click the "▶ Build" lens: progress in the status bar, cancellable.
    requireCommands(trace, BUILD_COMMANDS);
    // The tag comes from the bake file's default target "app".
    const buildLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^▶ Build \(buildkit-lsp-e2e:dev\)$/ });
    await buildLens.first().waitFor({ timeout: 30000 });
    const lensTitles = await page.locator('.monaco-editor .codelens-decoration a').allInnerTexts();
    log(`lenses: ${JSON.stringify(lensTitles)}`);
    for (const title of ['⚒ default (docker)', '▶ Build stage build', '▶ Build stage final']) {
      assert.ok(lensTitles.includes(title), `lens ${title} among ${JSON.stringify(lensTitles)}`);
    }
    t = Date.now();
    await buildLens.first().click();
    const progress = page.locator('.statusbar-item[id="status.progress"]', { hasText: 'Building' });
    await progress.first().waitFor({ timeout: 30000 });
    const progressText = await progress.first().innerText();
    log(`progress ${Date.now() - t} ms after the click: ${JSON.stringify(progressText)}`);
    assert.ok(/Building .* on default \(docker\)/.test(progressText), `progress title: ${progressText}`);
    // The status item opens the notification, which offers Cancel.
    await progress.first().click();
    const note = page.locator('.notifications-center .notification-list-item', { hasText: 'Building' });
    await note.first().waitFor({ timeout: 10000 });
    const noteText = await note.first().innerText();
    assert.ok(noteText.includes('Cancel'), `progress notification is cancellable: ${noteText}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-builds-progress.png') });

    // The end: a message with the result and the log in the "BuildKit" channel.
    // The server's window/showMessage: `Built Dockerfile on default in 4.2 s: …`.
    const done = page.locator('.notification-list-item', { hasText: /Built \S+ on default\b/ });
    await done.first().waitFor({ timeout: 120000 });
    const doneText = await done.first().innerText();
    log(`build finished ${Date.now() - t} ms after the click: ${JSON.stringify(doneText.split('\n')[0])}`);
    const channel = await waitForChannelFile(userData, /^\d+-BuildKit\.log$/, (s) => s.includes(`built ${nonce} 42`) && /Built .* on default \(docker\)/.test(s), 'the RUN output in the BuildKit channel', 20000);
    assert.ok(channel.includes('RUN echo "built $(cat /nonce.txt) $((6 * 7))"'), 'the channel shows the RUN step');
    // The channel is on screen, scrolled to its end (the summary line).
    const outputLines = page.locator('.panel .output-view .view-lines', { hasText: 'Built ' });
    await outputLines.first().waitFor({ timeout: 10000 });
    await page.screenshot({ path: path.join(outDir, 'vscode-builds-done.png') });
    await page.keyboard.press('Escape');

    // Cancel from the progress notification (window/workDoneProgress/cancel)
    // during the RUN step: a new nonce makes it run again, and it sleeps 3 s
    // after printing; the server's message says cancelled within 2 s.
    fs.writeFileSync(path.join(workspace, 'nonce.txt'), `${nonce}-2\n`);
    await page.locator('.monaco-editor .view-lines').first().click();
    await buildLens.first().click();
    await progress.first().waitFor({ timeout: 30000 });
    await waitForChannelFile(userData, /^\d+-BuildKit\.log$/, (s) => s.includes(`built ${nonce}-2 42`), 'the RUN output of the build to cancel', 60000);
    if (!(await note.first().isVisible())) {
      await progress.first().click();
    }
    t = Date.now();
    await note.first().locator('.monaco-button', { hasText: 'Cancel' }).click();
    const cancelled = page.locator('.notification-list-item', { hasText: /Build of \S+ on default cancelled/ });
    await cancelled.first().waitFor({ timeout: 10000 });
    const cancelMs = Date.now() - t;
    log(`cancelled build reported ${cancelMs} ms after Cancel`);
    assert.ok(cancelMs <= 2000, `the cancelled build ended within 2 s (${cancelMs} ms)`);
    await waitForChannelFile(userData, /^\d+-BuildKit\.log$/, (s) => /Build of \S+ on default \(docker\) cancelled/.test(s), 'the cancelled summary in the channel', 10000);
    await page.keyboard.press('Escape');

    // fail/Dockerfile: its lens ends in BuildFailed on RUN exit 3 (line 3).
    // From the explorer: expand `fail`, open the Dockerfile one level down.
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^fail$/ }).first().click();
    const failRow = page.locator('.explorer-folders-view .monaco-list-row[aria-level="2"]', { hasText: /^Dockerfile$/ });
    await failRow.first().waitFor({ timeout: 10000 });
    await failRow.first().click();
    await page.locator('.monaco-editor .view-lines', { hasText: 'RUN exit 3' }).first().waitFor({ timeout: 20000 });
    const failLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^▶ Build( \(.*\))?$/ });
    await failLens.first().waitFor({ timeout: 30000 });
    t = Date.now();
    await failLens.first().click();
    const failedNote = page.locator('.notification-list-item', { hasText: /Build of .* failed/ });
    await failedNote.first().waitFor({ timeout: 120000 });
    const failedText = await failedNote.first().innerText();
    log(`failing build ended ${Date.now() - t} ms after the click: ${JSON.stringify(failedText.split('\n').find((l) => l.includes('failed')))}`);
    await page.keyboard.press('Control+Shift+M');
    const failure = panel.locator('.monaco-list-row', { hasText: 'BuildFailed' });
    await failure.first().waitFor({ timeout: 30000 });
    const failureText = await failure.first().innerText();
    log(`Problems entry: ${JSON.stringify(failureText)}`);
    assert.ok(failureText.includes('[Ln 3, Col 1]'), `BuildFailed at Ln 3, Col 1: ${failureText}`);
    assert.ok(/\bbuildkit\b/.test(failureText), `BuildFailed source: ${failureText}`);
    assert.ok(/exit code:? 3/.test(failureText), `BuildFailed names exit code 3: ${failureText}`);
    await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 20000 });
    await page.screenshot({ path: path.join(outDir, 'vscode-builds-failed.png') });

    // The choice was remembered: a restarted server gets it at initialize.
    await runPaletteCommand(page, 'BuildKit: Restart the language server');
    await waitForChannelFile(
      userData,
      /^\d+-BuildKit Language Server\.log$/,
      // `trusted`: workspace trust is off in this test, so VS Code trusts it.
      (s) => /"initializationOptions": \{\s*"builder": "default",\s*"trusted": true\s*\}/.test(s),
      'initializationOptions.builder after the restart',
      30000,
    );
    // The bake file is in the document selector (language hcl or plain
    // text): a lens per target block and the finding on its cache-to
    // attribute (line 16, column 3).
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^docker-bake\.hcl$/ }).first().click();
    await page.locator('.monaco-editor .view-lines', { hasText: 'cache-to' }).first().waitFor({ timeout: 20000 });
    const bakeLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: '▶ Bake target cache' });
    await bakeLens.first().waitFor({ timeout: 30000 });
    const bakeLenses = await page.locator('.monaco-editor .codelens-decoration a').allInnerTexts();
    assert.deepStrictEqual(bakeLenses, ['▶ Bake target app', '▶ Bake target cache'], 'bake file lenses');
    await page.keyboard.press('Control+Shift+M');
    const bakeFinding = panel.locator('.monaco-list-row', { hasText: /BuilderCacheExport[\s\S]*\[Ln 16, Col 3\]/ });
    await bakeFinding.first().waitFor({ timeout: 30000 });
    log(`bake file: lenses ${JSON.stringify(bakeLenses)}; Problems entry ${JSON.stringify(await bakeFinding.first().innerText())}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-builds-bake.png') });

    // ▶ Bake target app builds the bake target (through the middleware, with
    // bakeTarget): the server's message names its tag.
    await page.locator('.monaco-editor .codelens-decoration a', { hasText: '▶ Bake target app' }).first().click();
    const bakeDone = page.locator('.notification-list-item', { hasText: /Built \S+ on default .*tagged buildkit-lsp-e2e:dev/ });
    await bakeDone.first().waitFor({ timeout: 120000 });
    log(`bake target build: ${JSON.stringify((await bakeDone.first().innerText()).split('\n')[0])}`);

    // Last, so everything above is checked first: the lens promised the bake
    // target's tag, so the build must give the image that tag.
    assert.ok(
      /buildkit-lsp-e2e:dev/.test(doneText),
      `server feature missing: the "▶ Build (buildkit-lsp-e2e:dev)" lens promises the bake target's tag, but the result says ${JSON.stringify(doneText.split('\n')[0])}: buildkit.build does not apply the bake configuration`,
    );
    log(`PASS vscode builds e2e in ${Date.now() - started} ms; screenshots in ${outDir}`);
  });
}

run(main);
