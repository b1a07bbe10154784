// The issue-7 protocol as the extension sees it: the shapes of
// `buildkit.listBuilders`, `buildkit.build`, `buildkit/buildLog` and
// `buildkit/builderChanged`, and the texts the UI shows for them. Kept free of
// the `vscode` module so it can be unit-tested with plain node; the UI that
// uses it is in builds-ui.ts.

/** One entry of the `buildkit.listBuilders` result. */
export interface BuilderInfo {
  name: string;
  driver: string;
  status: string;
  selected: boolean;
  globalDefault: boolean;
  endpoint: string;
  platforms: string[];
  error: string | null;
}

/** Parameters of `buildkit/builderChanged`. */
export interface BuilderChanged {
  name: string;
  driver: string;
  status: string;
  reachable: boolean;
  message: string | null;
}

/** Parameters of `buildkit/buildLog`. */
export interface BuildLog {
  buildId: string;
  uri: string;
  target: string | null;
  builder: string;
  text: string;
}

/** The result of `buildkit.build`. */
export interface BuildResult {
  ok: boolean;
  buildId: string;
  target: string | null;
  builder: string;
  driver: string;
  imageId: string | null;
  digest: string | null;
  tags: string[];
  durationMs: number;
  cachedSteps: number;
  totalSteps: number;
  error: string | null;
  cancelled: boolean;
}

/** The single argument of `buildkit.build` (and of `buildkit.cancelBuild`, without bakeTarget). */
export interface BuildArgument {
  uri: string;
  target?: string;
  bakeTarget?: string;
}

/**
 * The server commands that execute something (a build runs the Dockerfile's
 * RUN steps; builder management starts containers): the server's list
 * (`EXECUTING` in src/lsp/commands.rs). In Restricted Mode the server refuses
 * them (JSON-RPC error -32010), and the extension does not send them but
 * says why first (docs/threat-model.md).
 */
export const EXECUTING_COMMANDS: ReadonlySet<string> = new Set([
  'buildkit.build',
  'buildkit.createBuilder',
  'buildkit.bootstrapBuilder',
  'buildkit.stopBuilder',
  'buildkit.removeBuilder',
]);

/** What the extension says instead of running `command` in Restricted Mode. */
export function restrictedMessage(command: string): string {
  const what = command === 'buildkit.build' ? 'Building' : 'Managing builders';
  return `${what} is off in Restricted Mode: this workspace is not trusted, and it would run code or tools on the workspace's behalf. Trust the workspace to enable it (no restart needed).`;
}

/** Glob of the bake files buildx reads by default (`docker buildx bake` without `-f`). */
export const BAKE_FILE_GLOB = '**/docker-bake{.hcl,.json,.override.hcl,.override.json}';

const BAKE_FILE_NAMES = new Set(['docker-bake.hcl', 'docker-bake.json', 'docker-bake.override.hcl', 'docker-bake.override.json']);

/** Whether a path (or URI path) names a bake file. */
export function isBakeFile(fsPathOrUri: string): boolean {
  const base = fsPathOrUri.split(/[\\/]/).pop() ?? '';
  return BAKE_FILE_NAMES.has(base);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

/**
 * The builders of a `buildkit.listBuilders` result. Entries without a name
 * are dropped; missing fields get neutral values, so a server that sends
 * less than the protocol still gives a usable list.
 */
export function parseBuilderList(result: unknown): BuilderInfo[] {
  if (!Array.isArray(result)) {
    return [];
  }
  const builders: BuilderInfo[] = [];
  for (const entry of result) {
    if (!isObject(entry) || typeof entry.name !== 'string' || entry.name === '') {
      continue;
    }
    builders.push({
      name: entry.name,
      driver: stringOr(entry.driver, 'unknown'),
      status: stringOr(entry.status, 'unknown'),
      selected: entry.selected === true,
      globalDefault: entry.globalDefault === true,
      endpoint: stringOr(entry.endpoint, ''),
      platforms: Array.isArray(entry.platforms) ? entry.platforms.filter((p): p is string => typeof p === 'string') : [],
      error: typeof entry.error === 'string' ? entry.error : null,
    });
  }
  return builders;
}

/** `buildkit/builderChanged` parameters, or undefined when they are not usable. */
export function parseBuilderChanged(params: unknown): BuilderChanged | undefined {
  if (!isObject(params) || typeof params.name !== 'string') {
    return undefined;
  }
  return {
    name: params.name,
    driver: stringOr(params.driver, 'unknown'),
    status: stringOr(params.status, 'unknown'),
    // Only an explicit false means the builder stopped answering.
    reachable: params.reachable !== false,
    message: typeof params.message === 'string' ? params.message : null,
  };
}

/** Text of the status bar item: `⚒ default (docker)`. */
export function statusText(name: string, driver: string): string {
  return `⚒ ${name} (${driver})`;
}

/** Tooltip of the status bar item. */
export function statusTooltip(changed: BuilderChanged): string {
  const lines = [`BuildKit builder of this workspace: ${changed.name} (${changed.driver}, ${changed.status})`];
  if (!changed.reachable) {
    lines.push(changed.message ?? 'The builder does not answer.');
  } else if (changed.message) {
    lines.push(changed.message);
  }
  lines.push('Click to choose another builder.');
  return lines.join('\n');
}

/** A quick pick entry for one builder (the `vscode.QuickPickItem` fields plus the name). */
export interface BuilderPickItem {
  label: string;
  description: string;
  detail: string;
  name: string;
}

/**
 * Quick pick entries: the name as label, `driver, status` as description
 * (the same words as the server's showMessageRequest title
 * `name (driver, status)`), endpoint, platforms and any error as detail. The
 * selected builder comes first.
 */
export function builderPickItems(builders: BuilderInfo[]): BuilderPickItem[] {
  const ordered = [...builders].sort((a, b) => Number(b.selected) - Number(a.selected));
  return ordered.map((b) => {
    const marks = [b.selected ? 'selected' : '', b.globalDefault ? 'buildx default' : ''].filter((m) => m !== '');
    const description = `${b.driver}, ${b.status}` + (marks.length > 0 ? ` — ${marks.join(', ')}` : '');
    const details = [b.endpoint, b.platforms.join(', '), b.error ? `error: ${b.error}` : ''].filter((d) => d !== '');
    return { label: b.name, description, detail: details.join(' · '), name: b.name };
  });
}

/** `buildkit.build` results, or undefined when the server answered something else. */
export function parseBuildResult(result: unknown): BuildResult | undefined {
  if (!isObject(result) || typeof result.ok !== 'boolean') {
    return undefined;
  }
  const numberOr = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const stringOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    ok: result.ok,
    buildId: stringOr(result.buildId, ''),
    target: stringOrNull(result.target),
    builder: stringOr(result.builder, ''),
    driver: stringOr(result.driver, ''),
    imageId: stringOrNull(result.imageId),
    digest: stringOrNull(result.digest),
    tags: Array.isArray(result.tags) ? result.tags.filter((t): t is string => typeof t === 'string') : [],
    durationMs: numberOr(result.durationMs),
    cachedSteps: numberOr(result.cachedSteps),
    totalSteps: numberOr(result.totalSteps),
    error: stringOrNull(result.error),
    cancelled: result.cancelled === true,
  };
}

/** Image ids are `sha256:<64 hex>`; people recognise the first 12 hex digits. */
function shortId(id: string): string {
  const hex = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return hex.slice(0, 12);
}

/**
 * One line saying how a build ended, e.g.
 * `Built final on default (docker) in 4.2 s, 3/7 steps cached: image 0123456789ab, tags app:dev`.
 */
export function buildSummary(result: BuildResult): string {
  const what = result.target ?? 'Dockerfile';
  const where = result.builder ? ` on ${result.builder}${result.driver ? ` (${result.driver})` : ''}` : '';
  const seconds = (result.durationMs / 1000).toFixed(1);
  if (result.cancelled) {
    return `Build of ${what}${where} cancelled after ${seconds} s`;
  }
  if (!result.ok) {
    return `Build of ${what}${where} failed after ${seconds} s: ${result.error ?? 'unknown error'}`;
  }
  const parts: string[] = [];
  if (result.imageId) {
    parts.push(`image ${shortId(result.imageId)}`);
  }
  // The docker driver reports the image id as the digest too; say it once.
  if (result.digest && result.digest !== result.imageId) {
    parts.push(`digest ${result.digest}`);
  }
  if (result.tags.length > 0) {
    parts.push(`tags ${result.tags.join(', ')}`);
  }
  const cached = `${result.cachedSteps}/${result.totalSteps} steps cached`;
  return `Built ${what}${where} in ${seconds} s, ${cached}` + (parts.length > 0 ? `: ${parts.join(', ')}` : '');
}

/** The `buildkit.build` argument for a document and an optional target name. */
export function buildArgument(uri: string, target?: string): BuildArgument {
  if (target === undefined || target === '') {
    return { uri };
  }
  return isBakeFile(uri) ? { uri, bakeTarget: target } : { uri, target };
}

/** A key naming one build target, to tell running builds apart. */
export function buildKey(arg: BuildArgument): string {
  return `${arg.uri}#${arg.bakeTarget ?? arg.target ?? ''}`;
}
