// End-to-end test of bake files in real VS Code (issue 15): the packaged
// extension, the real server, no other extension installed (so no HCL
// extension: the file gets the extension's own `dockerbake` language).
//
// Run by scripts/test-editors as:
//   NODE_PATH=.test-env/e2e/node_modules CODE_SERVER=… VSIX=… BUILDKIT_LSP=… node tests/e2e/vscode/bake.js
//
// Workspace: tests/e2e/fixtures/bake (docker-bake.hcl with a target that
// builds the `runtime` stage of its Dockerfile; its `=` not aligned).
// Expected: the status bar names the language `Docker Bake`; hover on
// `dockerfile` shows its documentation; Format Document aligns the `=`;
// F12 on `runtime` opens the Dockerfile; typing `no-c` in the target offers
// `no-cache`. Screenshots in TEST_OUTPUT: vscode-bake-hover, -format,
// -definition, -completion (vscode-bake-failure.png on error).
'use strict';

const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { repo, log, copyTree, withVscode, run } = require('./harness');

/** The editor's visible lines, spaces normalised. */
async function lines(page) {
  const texts = await page.locator('.monaco-editor .view-lines .view-line').allInnerTexts();
  return texts.map((t) => t.replace(/\u00a0/g, ' '));
}

async function main() {
  const options = {
    name: 'vscode-bake',
    prepare: (workspace) => copyTree(path.join(repo, 'tests/e2e/fixtures/bake'), workspace),
  };
  await withVscode(options, async ({ page, outDir }) => {
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'docker-bake.hcl' });
    await row.first().waitFor({ timeout: 60000 });
    await row.first().click();
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
    const mode = page.locator('.statusbar-item[id="status.editor.mode"]');
    await page.waitForFunction(
      () => (document.querySelector('.statusbar-item[id="status.editor.mode"]') || {}).innerText === 'Docker Bake',
      null,
      { timeout: 20000 },
    );
    log(`language mode: ${await mode.innerText()}`);

    // Hover on `dockerfile` (line 6).
    let t = Date.now();
    const hover = page.locator('.monaco-hover-content', { hasText: 'relative to the context' });
    for (let attempt = 1; ; attempt++) {
      await page.locator('.monaco-editor .view-lines .view-line span span', { hasText: /^dockerfile$/ }).first().click();
      await page.keyboard.press('Control+K');
      await page.keyboard.press('Control+I');
      try {
        await hover.first().waitFor({ timeout: 5000 });
        break;
      } catch (err) {
        if (attempt === 4) {
          throw err;
        }
        await page.keyboard.press('Escape');
      }
    }
    log(`hover shown after ${Date.now() - t} ms: ${(await hover.first().innerText()).split('\n')[0]}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-bake-hover.png') });
    await page.keyboard.press('Escape');

    // Format Document: the target's `=` aligned.
    t = Date.now();
    // Through the command palette: Shift+Alt+F reaches the browser's menu.
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').first().waitFor({ timeout: 10000 });
    await page.keyboard.type('Format Document');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: /^Format Document/ }).first().waitFor({ timeout: 10000 });
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => [...document.querySelectorAll('.monaco-editor .view-line')].some((l) => l.innerText.replace(/\u00a0/g, ' ').includes('target     = "runtime"')),
      null,
      { timeout: 20000 },
    );
    const formatted = await lines(page);
    // Lines may end with an inlay hint (the evaluated tags).
    assert.ok(formatted.some((l) => l.startsWith('  dockerfile = "Dockerfile"')), JSON.stringify(formatted));
    assert.ok(formatted.some((l) => l.startsWith('  tags       = ["example/app:${TAG}"]')), JSON.stringify(formatted));
    log(`formatted after ${Date.now() - t} ms`);
    await page.screenshot({ path: path.join(outDir, 'vscode-bake-format.png') });

    // Completion: a new line in the target, `no-c` offers `no-cache`.
    t = Date.now();
    await page.locator('.monaco-editor .view-lines .view-line span span', { hasText: /^tags$/ }).first().click();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('no-c');
    const suggestion = page.locator('.suggest-widget .monaco-list-row', { hasText: 'no-cache' });
    await suggestion.first().waitFor({ timeout: 20000 });
    log(`completion offered no-cache after ${Date.now() - t} ms`);
    await page.screenshot({ path: path.join(outDir, 'vscode-bake-completion.png') });
    await page.keyboard.press('Escape');

    // F12 on `runtime`: the Dockerfile opens.
    t = Date.now();
    await page.locator('.monaco-editor .view-lines .view-line span span', { hasText: /runtime/ }).first().click();
    await page.keyboard.press('F12');
    await page.locator('.tabs-container .tab.active', { hasText: 'Dockerfile' }).first().waitFor({ timeout: 20000 });
    // The definition is the FROM … AS runtime line (the status bar follows
    // the editor switch a moment later).
    await page.waitForFunction(
      () => /Ln 4,/.test((document.querySelector('.statusbar-item[id="status.editor.selection"]') || {}).innerText || ''),
      null,
      { timeout: 10000 },
    );
    const cursor = await page.locator('.statusbar-item[id="status.editor.selection"]').innerText();
    log(`definition opened the Dockerfile at ${cursor} after ${Date.now() - t} ms`);
    await page.screenshot({ path: path.join(outDir, 'vscode-bake-definition.png') });
    assert.ok(fs.existsSync(path.join(outDir, 'vscode-bake-definition.png')));
  });
}

run(main);
