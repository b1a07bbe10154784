// End-to-end test of editors/vscode in real VS Code (code-server from npm),
// driven in Debian's headless Chromium through playwright-core.
//
// Run by scripts/test-editors (which installs code-server and playwright-core
// under .test-env/ and packages the .vsix) as:
//   NODE_PATH=.test-env/e2e/node_modules CODE_SERVER=… VSIX=… BUILDKIT_LSP=… node tests/e2e/vscode/test.js
//
// It installs the .vsix into a fresh extensions dir, starts code-server on
// 127.0.0.1 with auth none and a fresh user-data dir, opens a workspace holding
// tests/e2e/fixtures/workspace/Dockerfile, and asserts the squiggles in the
// editor and the rule names in the Problems panel. Expected values (by hand,
// from BuildKit's rules): line 1 FromAsCasing + StageNameCasing, line 7
// ConsistentInstructionCasing. Then a hover on RUN, a completion while typing
// `WOR` on the empty line 4, and the error that text causes; between them,
// document links on the FROM images and signature help on COPY. Screenshots
// go to test-output/ (vscode-editor, -e2e, -hover, -signature, -completion;
// -failure on error).
'use strict';

const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { repo, log, withVscode, run } = require('./harness');

const EXPECTED = [
  // Columns are 1-based as VS Code shows them: `as` starts at byte 18 of
  // `FROM busybox:test as Build`, `Build` at 21, `workdir` at 0.
  { line: 1, col: 19, code: 'FromAsCasing', message: "'as' and 'FROM' keywords' casing do not match" },
  { line: 1, col: 22, code: 'StageNameCasing', message: "Stage name 'Build' should be lowercase" },
  {
    line: 7,
    col: 1,
    code: 'ConsistentInstructionCasing',
    message: "Command 'workdir' should match the case of the command majority (uppercase)",
  },
];

async function main() {
  const started = Date.now();
  const options = {
    name: 'vscode',
    prepare: (workspace) => fs.copyFileSync(path.join(repo, 'tests/e2e/fixtures/workspace/Dockerfile'), path.join(workspace, 'Dockerfile')),
    settings: { 'buildkit.logLevel': 'debug' },
  };
  await withVscode(options, async ({ page, userData, outDir }) => {
    let t = Date.now();
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'Dockerfile' });
    await row.first().waitFor({ timeout: 60000 });
    log(`workbench with explorer after ${Date.now() - t} ms`);

    t = Date.now();
    await row.first().click();
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
    // Squiggles: Monaco draws each warning as a .squiggly-warning decoration.
    await page.waitForSelector('.monaco-editor .squiggly-warning', { timeout: 60000 });
    const squiggleMs = Date.now() - t;
    // Line 1 holds two warnings with ranges that may overlap; line 7 one.
    // Three disjoint ranges (`as`, `Build`, `workdir`): three decorations.
    await page.waitForFunction(() => document.querySelectorAll('.monaco-editor .squiggly-warning').length >= 3, null, {
      timeout: 20000,
    });
    const squiggles = await page.locator('.monaco-editor .squiggly-warning').count();
    log(`first squiggle ${squiggleMs} ms after opening the Dockerfile; ${squiggles} squiggle decorations`);
    assert.strictEqual(squiggles, 3, 'squiggle decorations');
    assert.strictEqual(await page.locator('.monaco-editor .squiggly-error').count(), 0, 'no error squiggles');
    await page.screenshot({ path: path.join(outDir, 'vscode-editor.png') });

    // Problems panel: one entry per diagnostic, with message and rule name.
    await page.keyboard.press('Control+Shift+M');
    const panel = page.locator('.markers-panel');
    await panel.waitFor({ timeout: 20000 });
    for (const expected of EXPECTED) {
      await panel.locator('.monaco-list-row', { hasText: expected.code }).first().waitFor({ timeout: 20000 });
    }
    const rows = await panel.locator('.monaco-list-row').allInnerTexts();
    log(`problems rows: ${JSON.stringify(rows)}`);
    for (const expected of EXPECTED) {
      const matching = rows.filter((r) => r.includes(expected.code));
      assert.strictEqual(matching.length, 1, `one Problems entry for ${expected.code}, got ${JSON.stringify(matching)}`);
      assert.ok(matching[0].includes(expected.message), `Problems entry for ${expected.code} says ${expected.message}: ${matching[0]}`);
      assert.ok(
        matching[0].includes(`[Ln ${expected.line}, Col ${expected.col}]`),
        `Problems entry for ${expected.code} is at Ln ${expected.line}, Col ${expected.col}: ${matching[0]}`,
      );
      assert.ok(matching[0].includes('buildkit-lsp'), `Problems entry for ${expected.code} names the source: ${matching[0]}`);
    }
    // The file row counts the problems of the Dockerfile.
    const fileRow = rows.find((r) => r.startsWith('Dockerfile'));
    assert.ok(fileRow && /\b3\b/.test(fileRow), `file row in Problems shows 3 problems: ${fileRow}`);

    await page.screenshot({ path: path.join(outDir, 'vscode-e2e.png') });

    // Hover on the RUN keyword of line 3: the server's instruction docs.
    t = Date.now();
    // Cursor on RUN, then Show Hover (Ctrl+K Ctrl+I): a mouse hover can be
    // lost when semantic tokens re-render the line under the pointer.
    const hover = page.locator('.monaco-hover-content', { hasText: 'Runs a command in a new layer' });
    for (let attempt = 1; ; attempt++) {
      await page.locator('.monaco-editor .view-lines .view-line span span', { hasText: /^RUN$/ }).first().click();
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
    await page.screenshot({ path: path.join(outDir, 'vscode-hover.png') });
    await page.keyboard.press('Escape');

    // Document links: both FROM images (busybox, a Docker Hub official
    // image) are underlined as links by the server's documentLink.
    t = Date.now();
    await page.waitForFunction(
      () => [...document.querySelectorAll('.monaco-editor .detected-link')].filter((e) => e.textContent.includes('busybox')).length >= 2,
      null,
      { timeout: 20000 },
    );
    log(`document links on both FROM images after ${Date.now() - t} ms`);

    // Signature help at the end of the COPY line (line 6): the COPY signature
    // with its flags, the destination as the active parameter.
    t = Date.now();
    const hints = page.locator('.parameter-hints-widget');
    for (let attempt = 1; ; attempt++) {
      await page.locator('.monaco-editor .view-lines .view-line span span', { hasText: /^COPY$/ }).first().click();
      await page.keyboard.press('End');
      await page.keyboard.press('Control+Shift+Space');
      try {
        await hints.locator('.signature', { hasText: 'COPY [--from=' }).first().waitFor({ timeout: 5000 });
        break;
      } catch (err) {
        if (attempt === 4) {
          throw err;
        }
        await page.keyboard.press('Escape');
      }
    }
    const active = await hints.locator('.parameter.active').first().innerText();
    assert.strictEqual(active, '<dest>', 'active parameter at the end of COPY');
    log(`signature help shown after ${Date.now() - t} ms, active parameter ${active}`);
    await page.screenshot({ path: path.join(outDir, 'vscode-signature.png') });
    await page.keyboard.press('Escape');

    // Quick fix "Ignore … everywhere" on `workdir` (line 7): the server stops
    // reporting the rule and the extension writes the setting it returns to
    // the user settings (the server cannot).
    t = Date.now();
    await page.locator('.monaco-editor .view-lines .view-line span span', { hasText: /^workdir$/ }).first().click();
    await page.keyboard.press('Control+.');
    const ignoreAction = page.locator('.action-widget .monaco-list-row', {
      hasText: 'Ignore ConsistentInstructionCasing everywhere',
    });
    await ignoreAction.first().waitFor({ timeout: 20000 });
    await page.screenshot({ path: path.join(outDir, 'vscode-quickfix.png') });
    // The widget's pointer block swallows clicks in headless Chromium: select
    // the entry with the keyboard instead.
    const wanted = 'Ignore ConsistentInstructionCasing everywhere';
    for (let i = 0; i < 8; i++) {
      const focused = await page.locator('.action-widget .monaco-list-row.focused').getAttribute('aria-label').catch(() => null);
      if (focused === wanted) {
        break;
      }
      await page.keyboard.press('ArrowDown');
    }
    assert.strictEqual(await page.locator('.action-widget .monaco-list-row.focused').getAttribute('aria-label'), wanted);
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => ![...document.querySelectorAll('.markers-panel .monaco-list-row')].some((r) => r.textContent.includes('ConsistentInstructionCasing')),
      null,
      { timeout: 20000 },
    );
    const settingsFile = path.join(userData, 'User', 'settings.json');
    let saved;
    for (let i = 0; i < 100 && saved === undefined; i++) {
      try {
        saved = JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['buildkit.checks.skip'];
      } catch {
        // Read while VS Code rewrites the file: try again.
        saved = undefined;
      }
      if (saved === undefined) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.deepStrictEqual(saved, ['ConsistentInstructionCasing'], 'buildkit.checks.skip in the user settings.json');
    // Only visible lines carry decorations: back to the top, hover closed.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Home');
    await page
      .waitForFunction(() => document.querySelectorAll('.monaco-editor .squiggly-warning').length === 2, null, { timeout: 10000 })
      .catch(() => {});
    assert.strictEqual(await page.locator('.monaco-editor .squiggly-warning').count(), 2, 'squiggles after ignoring a rule');
    log(`quick fix "Ignore ConsistentInstructionCasing everywhere" applied and saved after ${Date.now() - t} ms`);

    // Completion on the empty line 4: typing WOR offers WORKDIR.
    t = Date.now();
    // Keyboard, not a click: an empty line has no text to click on.
    await page.locator('.monaco-editor .view-lines .view-line').first().click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Home');
    // A key press can be swallowed while a widget closes: step until the
    // status bar says line 4.
    const cursor = page.locator('.statusbar-item[id="status.editor.selection"]');
    for (let i = 0; i < 8 && !/Ln 4, Col 1\b/.test(await cursor.innerText()); i++) {
      await page.keyboard.press('ArrowDown');
      await page.waitForTimeout(100);
    }
    assert.match(await cursor.innerText(), /Ln 4, Col 1\b/);
    await page.keyboard.type('WOR');
    const suggestion = page.locator('.suggest-widget .monaco-list-row', { hasText: 'WORKDIR' });
    await suggestion.first().waitFor({ timeout: 20000 });
    log(`completion offered WORKDIR after ${Date.now() - t} ms`);
    await page.screenshot({ path: path.join(outDir, 'vscode-completion.png') });

    // The typed text went to the server (didChange): `WOR` on line 4 is not an
    // instruction, so an error appears there, beside the three warnings.
    // All three letters: diagnostics for the intermediate `W`/`WO` may show first.
    const unknown = panel.locator('.monaco-list-row', { hasText: /unknown instruction: WOR/i });
    await unknown.first().waitFor({ timeout: 20000 });
    const unknownText = await unknown.first().innerText();
    assert.ok(unknownText.includes('WOR') && unknownText.includes('[Ln 4, Col 1]'), `error entry for WOR: ${unknownText}`);
    await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 20000 });
    log(`PASS vscode e2e in ${Date.now() - started} ms; screenshots in ${outDir}`);
  });
}

run(main);
