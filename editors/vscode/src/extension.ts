// VS Code client for buildkit-lsp: finds the server binary, starts it over
// stdio for Dockerfiles and bake files, and restarts it when its location
// changes. All language features come from the server; this file holds no
// Dockerfile logic. Builder and build UI: builds-ui.ts. In Restricted Mode
// (an untrusted workspace) the server runs with analysis only and the
// workspace's server path/args settings are ignored by VS Code
// (package.json `restrictedConfigurations`).

import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from 'vscode-languageclient/node';

import { BAKE_FILE_GLOB } from './builds';
import { BuildsUi } from './builds-ui';
import { resolveServerPath } from './server';

/** The Compose file names `docker compose` reads, and their overrides. */
export const COMPOSE_FILE_GLOB = '**/{compose,docker-compose}{,.override}.{yaml,yml}';

/**
 * Documents the server handles: by language id and by file name. Bake files
 * are included whatever their language id, so their build lenses and
 * capability diagnostics show.
 */
export const DOCUMENT_SELECTOR = [
  { language: 'dockerfile' },
  // Bake files: our `dockerbake` language when it wins the file, else by
  // name under whatever language another extension (HCL, JSON) gives them.
  { language: 'dockerbake' },
  { scheme: 'file', pattern: '**/{Dockerfile,*.Dockerfile,Dockerfile.*,Containerfile}' },
  { scheme: 'file', pattern: BAKE_FILE_GLOB },
  // Compose files by name only, whatever their language id (`dockercompose`
  // with Docker's extension, else `yaml`): other YAML files stay untouched.
  { scheme: 'file', pattern: COMPOSE_FILE_GLOB },
  { scheme: 'untitled', language: 'dockerfile' },
];

let client: LanguageClient | undefined;
let outputChannel: vscode.OutputChannel | undefined;
let builds: BuildsUi | undefined;
// One watcher for the session; each client (after a restart) forwards its events.
let bakeWatcher: vscode.FileSystemWatcher | undefined;
let composeWatcher: vscode.FileSystemWatcher | undefined;


export async function activate(context: vscode.ExtensionContext): Promise<void> {
  // One channel for the whole session, so a restart does not open a new one.
  outputChannel = vscode.window.createOutputChannel('BuildKit Language Server');
  context.subscriptions.push(outputChannel);
  builds = new BuildsUi(context);
  bakeWatcher = vscode.workspace.createFileSystemWatcher(BAKE_FILE_GLOB);
  context.subscriptions.push(bakeWatcher);
  composeWatcher = vscode.workspace.createFileSystemWatcher('**/{compose,docker-compose}{,.override}.{yaml,yml},**/.env');
  context.subscriptions.push(composeWatcher);

  context.subscriptions.push(
    vscode.commands.registerCommand('buildkitLsp.restartServer', () => restart(context)),
    vscode.commands.registerCommand('buildkitLsp.showOutput', () => outputChannel?.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (
        event.affectsConfiguration('buildkit.server.path') ||
        event.affectsConfiguration('buildkit.server.args')
      ) {
        void restart(context);
      }
    }),
    // Restricted Mode ends without a restart: the server enables builds,
    // evaluates bake files and refreshes its lenses (docs/threat-model.md).
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (client?.isRunning()) {
        void client.sendNotification('buildkit/setTrust', { trusted: true });
      }
    }),
  );

  await start(context);
}

export async function deactivate(): Promise<void> {
  await stop();
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration('buildkit');
  const resolved = resolveServerPath({
    setting: config.get<string>('server.path', ''),
    extensionPath: context.extensionPath,
    envPath: process.env.PATH ?? '',
    platform: process.platform,
    home: process.env.HOME ?? process.env.USERPROFILE ?? '',
  });
  if (!resolved.ok) {
    outputChannel?.appendLine(resolved.message);
    void vscode.window.showErrorMessage(resolved.message, 'Open Settings').then((choice) => {
      if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'buildkit.server.path');
      }
    });
    return;
  }
  outputChannel?.appendLine(`Starting ${resolved.path} (found via ${resolved.source})`);

  const args = config.get<string[]>('server.args', []);
  // No `transport` on purpose: TransportKind.stdio would append `--stdio` to
  // the arguments, and buildkit-lsp speaks stdio without any flag.
  const executable = { command: resolved.path, args };
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const builder = builds?.rememberedBuilder();
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    outputChannel,
    // The workspace's builder choice lives in workspaceState; the server
    // starts with it (absent = the builder buildx would pick). `trusted`:
    // false starts the server in Restricted Mode (analysis only).
    initializationOptions: { ...(builder !== undefined ? { builder } : {}), trusted: vscode.workspace.isTrusted },
    // The server pulls `buildkit.*` through workspace/configuration; this also
    // pushes workspace/didChangeConfiguration when the user edits them. Bake
    // file changes reach it as workspace/didChangeWatchedFiles.
    synchronize: { configurationSection: 'buildkit', fileEvents: [bakeWatcher, composeWatcher].filter((w): w is vscode.FileSystemWatcher => w !== undefined) },
    middleware: {
      // Commands such as buildkit.ignoreRuleEverywhere answer with the
      // setting the user's choice belongs in; the server cannot write editor
      // settings, so the extension does. Builder selection and builds get
      // the extension's own UI (quick pick, log channel).
      executeCommand: async (command, args, next) => {
        const intercepted = builds?.intercept(command, args, async (c, a) => next(c, a));
        if (intercepted !== undefined) {
          return intercepted;
        }
        const result = await next(command, args);
        await persistSetting(result);
        return result;
      },
    },
  };

  client = new LanguageClient('buildkit', 'BuildKit Language Server', serverOptions, clientOptions);
  // Notification handlers (builder status, build log) before start().
  builds?.attach(client);
  try {
    await client.start();
    await builds?.started();
  } catch (err) {
    const message = `buildkit-lsp failed to start from ${resolved.path}: ${String(err)}`;
    outputChannel?.appendLine(message);
    void vscode.window.showErrorMessage(message);
  }
}

/** Writes `{setting: "buildkit.…", value}` command results to the user settings. */
async function persistSetting(result: unknown): Promise<void> {
  if (typeof result !== 'object' || result === null) {
    return;
  }
  const { setting, value } = result as { setting?: unknown; value?: unknown };
  if (typeof setting !== 'string' || !setting.startsWith('buildkit.') || value === undefined) {
    return;
  }
  try {
    await vscode.workspace.getConfiguration().update(setting, value, vscode.ConfigurationTarget.Global);
    outputChannel?.appendLine(`Saved ${setting} = ${JSON.stringify(value)} to the user settings`);
  } catch (err) {
    void vscode.window.showWarningMessage(`Could not save ${setting}: ${String(err)}`);
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  builds?.detach();
  if (running) {
    try {
      await running.stop();
    } catch (err) {
      // A server that already died cannot be stopped; nothing else to clean.
      outputChannel?.appendLine(`stopping buildkit-lsp: ${String(err)}`);
    }
  }
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  await stop();
  await start(context);
}
