// Where the buildkit-lsp executable comes from. Kept free of the `vscode`
// module so it can be unit-tested with plain node.

import * as fs from 'fs';
import * as path from 'path';

export interface ResolveInput {
  /** Value of `buildkit.server.path` ('' when unset). */
  setting: string;
  /** Root folder of the installed extension (holds the optional `bin/`). */
  extensionPath: string;
  /** The PATH environment variable. */
  envPath: string;
  platform: NodeJS.Platform;
  home: string;
}

export type Resolved =
  | { ok: true; path: string; source: 'setting' | 'bundled' | 'PATH' }
  | { ok: false; message: string };

export function executableName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'buildkit-lsp.exe' : 'buildkit-lsp';
}

function isExecutableFile(candidate: string, platform: NodeJS.Platform): boolean {
  try {
    if (!fs.statSync(candidate).isFile()) {
      return false;
    }
    // Windows has no execute bit; existence is what counts there.
    if (platform !== 'win32') {
      fs.accessSync(candidate, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

function searchPath(name: string, input: ResolveInput): string | undefined {
  const delimiter = input.platform === 'win32' ? ';' : ':';
  for (const dir of input.envPath.split(delimiter)) {
    if (dir === '') {
      continue;
    }
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate, input.platform)) {
      return candidate;
    }
  }
  return undefined;
}

/**
 * The setting wins, then the binary shipped in the extension's `bin/`, then
 * `PATH`. A setting that points nowhere is an error rather than a silent
 * fallback, so a typo does not quietly run another version.
 */
export function resolveServerPath(input: ResolveInput): Resolved {
  const setting = input.setting.trim();
  if (setting !== '') {
    let candidate = setting;
    if (candidate === '~' || candidate.startsWith('~/')) {
      candidate = path.join(input.home, candidate.slice(1));
    }
    // A bare name ("buildkit-lsp-nightly") is looked up on PATH like a shell would.
    if (!candidate.includes('/') && !candidate.includes('\\')) {
      const found = searchPath(candidate, input);
      if (found !== undefined) {
        return { ok: true, path: found, source: 'setting' };
      }
    } else if (isExecutableFile(candidate, input.platform)) {
      return { ok: true, path: candidate, source: 'setting' };
    }
    return {
      ok: false,
      message: `buildkit.server.path is set to "${setting}", but no executable file is there. Fix the setting or clear it to use the bundled binary or PATH.`,
    };
  }

  const name = executableName(input.platform);
  const bundled = path.join(input.extensionPath, 'bin', name);
  if (isExecutableFile(bundled, input.platform)) {
    return { ok: true, path: bundled, source: 'bundled' };
  }

  const onPath = searchPath(name, input);
  if (onPath !== undefined) {
    return { ok: true, path: onPath, source: 'PATH' };
  }

  return {
    ok: false,
    message: `${name} was not found: set buildkit.server.path, or put ${name} on PATH (cargo install --path . in the buildkit-lsp repository).`,
  };
}
