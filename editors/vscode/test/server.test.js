// Unit tests of the server-binary lookup (out/server.js, compiled by tsc).
// Run: npm test (node's built-in test runner; no VS Code needed).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { resolveServerPath } = require('../out/server.js');

function tree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-resolve-'));
  const mk = (rel, mode) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, '#!/bin/sh\n');
    fs.chmodSync(p, mode);
    return p;
  };
  return { root, mk };
}

const base = (root) => ({
  setting: '',
  extensionPath: path.join(root, 'ext'),
  envPath: '',
  platform: 'linux',
  home: path.join(root, 'home'),
});

test('setting wins over bundled and PATH', () => {
  const { root, mk } = tree();
  const custom = mk('custom/buildkit-lsp', 0o755);
  mk('ext/bin/buildkit-lsp', 0o755);
  mk('pathdir/buildkit-lsp', 0o755);
  const r = resolveServerPath({ ...base(root), setting: custom, envPath: path.join(root, 'pathdir') });
  assert.deepStrictEqual(r, { ok: true, path: custom, source: 'setting' });
});

test('tilde in the setting expands to home', () => {
  const { root, mk } = tree();
  const inHome = mk('home/.cargo/bin/buildkit-lsp', 0o755);
  const r = resolveServerPath({ ...base(root), setting: '~/.cargo/bin/buildkit-lsp' });
  assert.deepStrictEqual(r, { ok: true, path: inHome, source: 'setting' });
});

test('a setting that points nowhere is an error, not a fallback', () => {
  const { root, mk } = tree();
  mk('ext/bin/buildkit-lsp', 0o755);
  const r = resolveServerPath({ ...base(root), setting: '/nonexistent/buildkit-lsp' });
  assert.strictEqual(r.ok, false);
  assert.match(r.message, /buildkit\.server\.path is set to "\/nonexistent\/buildkit-lsp"/);
});

test('bundled binary before PATH', () => {
  const { root, mk } = tree();
  const bundled = mk('ext/bin/buildkit-lsp', 0o755);
  mk('pathdir/buildkit-lsp', 0o755);
  const r = resolveServerPath({ ...base(root), envPath: path.join(root, 'pathdir') });
  assert.deepStrictEqual(r, { ok: true, path: bundled, source: 'bundled' });
});

test('PATH is searched in order and skips non-executable files', () => {
  const { root, mk } = tree();
  mk('a/buildkit-lsp', 0o644);
  const second = mk('b/buildkit-lsp', 0o755);
  const envPath = ['', path.join(root, 'a'), path.join(root, 'b')].join(':');
  const r = resolveServerPath({ ...base(root), envPath });
  assert.deepStrictEqual(r, { ok: true, path: second, source: 'PATH' });
});

test('nothing found names the setting in the message', () => {
  const { root } = tree();
  const r = resolveServerPath(base(root));
  assert.strictEqual(r.ok, false);
  assert.match(r.message, /^buildkit-lsp was not found: set buildkit\.server\.path/);
});
