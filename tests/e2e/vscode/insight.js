// End-to-end test of the build insight in real VS Code (issue 18):
// code-server with the packaged extension, Debian's headless Chromium, the
// real server and the test Docker Engine (docker driver).
//
// Run by scripts/test-editors as:
//   NODE_PATH=.test-env/e2e/node_modules CODE_SERVER=… VSIX=… BUILDKIT_LSP=… node tests/e2e/vscode/insight.js
//
// Fixture tests/e2e/fixtures/insight (copied to a temp workspace with a fresh
// nonce.txt, so the first RUN is never cached):
//   Dockerfile  1 FROM busybox:test  2 COPY nonce.txt  3 RUN cat /nonce.txt
//               4 COPY b.txt /b.txt  5 RUN cat /b.txt
// Steps and expected values (by hand from the issue): the "▶ Build" lens
// builds; b.txt changes; the lens builds again; then the editor shows the
// inlay hints `cached` (lines 1-3), `ran …: b.txt changed` (line 4) and
// `ran …: an earlier step ran` (line 5), and the first line's lens says
// `last build: 5 steps, 3 cached, …`.
// Screenshot in TEST_OUTPUT: vscode-insight-hints.png
// (vscode-insight-failure.png on error).
'use strict';

const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { repo, log, copyTree, withVscode, run } = require('./harness');

async function main() {
  const started = Date.now();
  const nonce = `${Date.now().toString(16)}${Math.floor(Math.random() * 0xffffff).toString(16)}`;
  const options = {
    name: 'vscode-insight',
    prepare: (workspace, tmp) => {
      copyTree(path.join(repo, 'tests/e2e/fixtures/insight'), workspace);
      fs.writeFileSync(path.join(workspace, 'nonce.txt'), `${nonce}\n`);
      fs.mkdirSync(path.join(tmp, 'docker-config'), { recursive: true });
    },
    settings: {},
    env: (tmp) => ({ DOCKER_CONFIG: path.join(tmp, 'docker-config') }),
  };
  await withVscode(options, async ({ page, workspace, outDir }) => {
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^Dockerfile$/ });
    await row.first().waitFor({ timeout: 60000 });
    await row.first().click();
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
    const buildLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^▶ Build( \(.*\))?$/ });
    await buildLens.first().waitFor({ timeout: 30000 });

    // The editor's text with its inlay hints, one string per line.
    const lines = page.locator('.monaco-editor .view-lines').first();
    const waitForLines = async (what, test) => {
      const deadline = Date.now() + 120000;
      let text = '';
      while (Date.now() < deadline) {
        // Hints are separate elements: collapse the spaces (and zero-width
        // characters) the DOM puts around them.
        const rows = (await lines.innerText())
          .split('\n')
          .map((l) => l.replace(/[\s\u200b-\u200d\ufeff]+/g, ' ').trim())
          .filter((l) => l !== '');
        text = rows.join('\n');
        if (test(text)) {
          return rows;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`timed out waiting for ${what}; the editor shows:\n${text}`);
    };
    let t = Date.now();
    await buildLens.first().click();
    // The first build's hints: the COPY of the new nonce ran.
    await waitForLines("the first build's hints", (s) => /nonce\.txt ran [0-9.]+ s: nonce\.txt changed/.test(s));
    log(`first build's hints ${Date.now() - t} ms after the click`);

    fs.writeFileSync(path.join(workspace, 'b.txt'), `b changed ${nonce}\n`);
    await page.keyboard.press('Escape');
    t = Date.now();
    await buildLens.first().click();
    const rows = await waitForLines("the second build's hints", (s) => /\/nonce\.txt cached/.test(s) && /b\.txt changed/.test(s));
    log(`second build's hints ${Date.now() - t} ms after the click`);
    log(`editor lines with hints: ${JSON.stringify(rows)}`);
    const rowOf = (start) => rows.find((r) => r.startsWith(start)) || '';
    for (const start of ['FROM busybox:test', 'COPY nonce.txt /nonce.txt', 'RUN cat /nonce.txt']) {
      assert.ok(/cached\s*$/.test(rowOf(start)), `"${start}" shows "cached": ${JSON.stringify(rowOf(start))}`);
    }
    assert.ok(/ran [0-9.]+ s: b\.txt changed\s*$/.test(rowOf('COPY b.txt /b.txt')), `the COPY names b.txt: ${JSON.stringify(rowOf('COPY b.txt'))}`);
    assert.ok(/an earlier step ran\s*$/.test(rowOf('RUN cat /b.txt')), `the last RUN blames the COPY: ${JSON.stringify(rowOf('RUN cat /b.txt'))}`);
    const summary = page.locator('.monaco-editor .codelens-decoration', { hasText: /last build: 5 steps, 3 cached, / });
    await summary.first().waitFor({ timeout: 20000 });
    log(`summary lens: ${JSON.stringify(await summary.first().innerText())}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-insight-hints.png') });
    log(`PASS vscode insight e2e in ${Date.now() - started} ms; screenshot in ${outDir}`);
  });
}

run(main);
