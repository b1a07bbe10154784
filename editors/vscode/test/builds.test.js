// Unit tests of the issue-7 protocol helpers (out/builds.js, compiled by tsc):
// parsing the server's builder list, build results and notifications, and
// the texts the status bar, quick pick and build log show.
// Run: npm test (node's built-in test runner; no VS Code needed).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const {
  parseBuilderList,
  parseBuilderChanged,
  builderPickItems,
  statusText,
  statusTooltip,
  parseBuildResult,
  buildSummary,
  buildArgument,
  buildKey,
  isBakeFile,
  EXECUTING_COMMANDS,
  restrictedMessage,
} = require('../out/builds.js');

// A listBuilders answer as the protocol table describes it.
const LIST = [
  {
    name: 'default',
    driver: 'docker',
    status: 'running',
    selected: false,
    globalDefault: true,
    endpoint: 'default',
    platforms: ['linux/amd64', 'linux/386'],
    error: null,
  },
  {
    name: 'ci',
    driver: 'docker-container',
    status: 'inactive',
    selected: true,
    globalDefault: false,
    endpoint: 'unix:///var/run/docker.sock',
    platforms: [],
    error: null,
  },
  { name: 'broken', driver: 'remote', status: 'error', selected: false, globalDefault: false, endpoint: 'tcp://10.0.0.9:1234', platforms: [], error: 'connection refused' },
];

test('builder list keeps every field of well-formed entries', () => {
  const list = parseBuilderList(LIST);
  assert.strictEqual(list.length, 3);
  assert.deepStrictEqual(list[2], {
    name: 'broken',
    driver: 'remote',
    status: 'error',
    selected: false,
    globalDefault: false,
    endpoint: 'tcp://10.0.0.9:1234',
    platforms: [],
    error: 'connection refused',
  });
});

test('builder list drops nameless entries and fills missing fields', () => {
  const list = parseBuilderList([{ driver: 'docker' }, { name: '' }, 'x', { name: 'bare', platforms: ['linux/arm64', 7] }]);
  assert.deepStrictEqual(list, [
    { name: 'bare', driver: 'unknown', status: 'unknown', selected: false, globalDefault: false, endpoint: '', platforms: ['linux/arm64'], error: null },
  ]);
  assert.deepStrictEqual(parseBuilderList(null), []);
  assert.deepStrictEqual(parseBuilderList({ name: 'x' }), []);
});

test('quick pick puts the selected builder first and says driver, status and marks', () => {
  const items = builderPickItems(parseBuilderList(LIST));
  assert.deepStrictEqual(
    items.map((i) => [i.label, i.description]),
    [
      ['ci', 'docker-container, inactive — selected'],
      ['default', 'docker, running — buildx default'],
      ['broken', 'remote, error'],
    ],
  );
  assert.strictEqual(items[1].detail, 'default · linux/amd64, linux/386');
  assert.strictEqual(items[2].detail, 'tcp://10.0.0.9:1234 · error: connection refused');
  assert.strictEqual(items[0].name, 'ci');
});

test('status bar text is the hammer, the name and the driver', () => {
  assert.strictEqual(statusText('default', 'docker'), '⚒ default (docker)');
  assert.strictEqual(statusText('ci', 'docker-container'), '⚒ ci (docker-container)');
});

test('builderChanged: reachable unless explicitly false; message kept for the tooltip', () => {
  const down = parseBuilderChanged({ name: 'ci', driver: 'docker-container', status: 'stopped', reachable: false, message: 'builder ci does not answer' });
  assert.deepStrictEqual(down, { name: 'ci', driver: 'docker-container', status: 'stopped', reachable: false, message: 'builder ci does not answer' });
  assert.strictEqual(
    statusTooltip(down),
    'BuildKit builder of this workspace: ci (docker-container, stopped)\nbuilder ci does not answer\nClick to choose another builder.',
  );
  assert.strictEqual(parseBuilderChanged({ name: 'default', driver: 'docker', status: 'running' }).reachable, true);
  assert.strictEqual(parseBuilderChanged({ driver: 'docker' }), undefined);
  assert.strictEqual(parseBuilderChanged(null), undefined);
});

const OK = {
  ok: true,
  buildId: 'b1',
  target: 'final',
  builder: 'default',
  driver: 'docker',
  imageId: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  digest: null,
  tags: ['app:dev', 'app:latest'],
  durationMs: 4249,
  cachedSteps: 3,
  totalSteps: 7,
  error: null,
  cancelled: false,
};

test('summary of a successful build: target, builder, seconds, cached steps, short image id, tags', () => {
  assert.strictEqual(
    buildSummary(parseBuildResult(OK)),
    'Built final on default (docker) in 4.2 s, 3/7 steps cached: image 0123456789ab, tags app:dev, app:latest',
  );
});

test('summary names a digest only when it is not the image id', () => {
  const id = 'sha256:be293f1f912f8861f45f71eaaf9cfb7c5914e65e24eda8c5de2b5c3fb2c15ca9';
  const same = parseBuildResult({ ...OK, tags: [], imageId: id, digest: id });
  assert.strictEqual(buildSummary(same), 'Built final on default (docker) in 4.2 s, 3/7 steps cached: image be293f1f912f');
  const pushed = parseBuildResult({ ...OK, tags: [], imageId: null, digest: 'sha256:1111' });
  assert.strictEqual(buildSummary(pushed), 'Built final on default (docker) in 4.2 s, 3/7 steps cached: digest sha256:1111');
});

test('summary of a failed, a cancelled and an untargeted build', () => {
  const failed = parseBuildResult({ ...OK, ok: false, target: null, imageId: null, tags: [], durationMs: 900, error: 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3' });
  assert.strictEqual(
    buildSummary(failed),
    'Build of Dockerfile on default (docker) failed after 0.9 s: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
  );
  const cancelled = parseBuildResult({ ...OK, ok: false, cancelled: true, durationMs: 1500 });
  assert.strictEqual(buildSummary(cancelled), 'Build of final on default (docker) cancelled after 1.5 s');
  const bare = parseBuildResult({ ok: true });
  assert.strictEqual(buildSummary(bare), 'Built Dockerfile in 0.0 s, 0/0 steps cached');
});

test('build results that are not objects with ok are refused', () => {
  assert.strictEqual(parseBuildResult(null), undefined);
  assert.strictEqual(parseBuildResult({ ok: 'yes' }), undefined);
  assert.strictEqual(parseBuildResult([OK]), undefined);
});

test('bake files are recognised by their buildx default names only', () => {
  assert.strictEqual(isBakeFile('/w/docker-bake.hcl'), true);
  assert.strictEqual(isBakeFile('file:///w/sub/docker-bake.override.json'), true);
  assert.strictEqual(isBakeFile('C:\\w\\docker-bake.json'), true);
  assert.strictEqual(isBakeFile('/w/docker-bake.yaml'), false);
  assert.strictEqual(isBakeFile('/w/Dockerfile'), false);
  assert.strictEqual(isBakeFile('/w/my-docker-bake.hcl'), false);
});

test('build arguments: target for Dockerfiles, bakeTarget for bake files, none when empty', () => {
  assert.deepStrictEqual(buildArgument('file:///w/Dockerfile', 'final'), { uri: 'file:///w/Dockerfile', target: 'final' });
  assert.deepStrictEqual(buildArgument('file:///w/docker-bake.hcl', 'app'), { uri: 'file:///w/docker-bake.hcl', bakeTarget: 'app' });
  assert.deepStrictEqual(buildArgument('file:///w/Dockerfile', ''), { uri: 'file:///w/Dockerfile' });
  assert.strictEqual(buildKey({ uri: 'file:///w/Dockerfile', target: 'final' }), 'file:///w/Dockerfile#final');
  assert.strictEqual(buildKey({ uri: 'file:///w/docker-bake.hcl', bakeTarget: 'app' }), 'file:///w/docker-bake.hcl#app');
  assert.strictEqual(buildKey({ uri: 'file:///w/Dockerfile' }), 'file:///w/Dockerfile#');
});

test('Restricted Mode: the executing commands and what is said instead of running them', () => {
  // The same list as the server's (src/lsp/commands.rs EXECUTING).
  assert.deepStrictEqual([...EXECUTING_COMMANDS].sort(), [
    'buildkit.bootstrapBuilder',
    'buildkit.build',
    'buildkit.createBuilder',
    'buildkit.removeBuilder',
    'buildkit.stopBuilder',
  ]);
  assert.ok(!EXECUTING_COMMANDS.has('buildkit.cancelBuild'));
  assert.match(restrictedMessage('buildkit.build'), /^Building is off in Restricted Mode: .*Trust the workspace/);
  assert.match(restrictedMessage('buildkit.removeBuilder'), /^Managing builders is off in Restricted Mode/);
});
