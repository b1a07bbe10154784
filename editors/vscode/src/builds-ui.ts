// Builders and builds in VS Code (issue 7): the status bar item showing the
// workspace's builder, the quick pick that replaces the server's
// showMessageRequest, the builder management commands, the "BuildKit" output
// channel fed by `buildkit/buildLog`, and the Build / Cancel Build commands.
// The server does the work; this file turns its commands and notifications
// into VS Code UI. Work-done progress needs nothing here: vscode-languageclient
// shows it (cancellable) by itself.

import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';

import {
  BuildArgument,
  BuildLog,
  BuilderChanged,
  BuilderInfo,
  EXECUTING_COMMANDS,
  buildArgument,
  buildKey,
  builderPickItems,
  buildSummary,
  parseBuildResult,
  parseBuilderChanged,
  parseBuilderList,
  restrictedMessage,
  statusText,
  statusTooltip,
} from './builds';

/** workspaceState key of the builder chosen for this workspace. */
const BUILDER_STATE_KEY = 'buildkit.builder';

type Next = (command: string, args: unknown[]) => Promise<unknown>;

export class BuildsUi implements vscode.Disposable {
  private readonly statusItem: vscode.StatusBarItem;
  private readonly buildLog: vscode.OutputChannel;
  private client: LanguageClient | undefined;
  /** Builds this window is waiting for, by buildKey. */
  private readonly running = new Map<string, BuildArgument>();
  /** buildIds whose log already reached the channel (a new one shows it). */
  private readonly seenBuilds = new Set<string>();
  /** Build reports (markdown) by their `buildkit-report:` path: read-only documents. */
  private readonly reports = new Map<string, string>();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.statusItem = vscode.window.createStatusBarItem('buildkit.builder', vscode.StatusBarAlignment.Left, 10);
    this.statusItem.name = 'BuildKit Builder';
    this.statusItem.command = 'buildkitLsp.selectBuilder';
    this.buildLog = vscode.window.createOutputChannel('BuildKit');
    context.subscriptions.push(
      this,
      vscode.commands.registerCommand('buildkitLsp.selectBuilder', () => this.selectBuilder()),
      vscode.commands.registerCommand('buildkitLsp.useBuilderGlobally', () => this.useBuilderGlobally()),
      vscode.commands.registerCommand('buildkitLsp.createBuilder', () => this.createBuilder()),
      vscode.commands.registerCommand('buildkitLsp.bootstrapBuilder', () => this.manageBuilder('bootstrap')),
      vscode.commands.registerCommand('buildkitLsp.stopBuilder', () => this.manageBuilder('stop')),
      vscode.commands.registerCommand('buildkitLsp.removeBuilder', () => this.manageBuilder('remove')),
      vscode.commands.registerCommand('buildkitLsp.build', () => this.buildActiveDocument()),
      vscode.commands.registerCommand('buildkitLsp.cancelBuild', () => this.cancelBuild()),
      vscode.commands.registerCommand('buildkitLsp.showBuildLog', () => this.buildLog.show(true)),
      vscode.commands.registerCommand('buildkitLsp.showBuildHistory', () => this.showBuildHistory()),
      vscode.workspace.registerTextDocumentContentProvider('buildkit-report', {
        provideTextDocumentContent: (uri) => this.reports.get(uri.path) ?? '',
      }),
    );
  }

  dispose(): void {
    this.statusItem.dispose();
    this.buildLog.dispose();
  }

  /** The builder remembered for this workspace, sent as `initializationOptions.builder`. */
  rememberedBuilder(): string | undefined {
    const name = this.context.workspaceState.get<unknown>(BUILDER_STATE_KEY);
    return typeof name === 'string' && name !== '' ? name : undefined;
  }

  /** Registers the notification handlers on a new client; call before `client.start()`. */
  attach(client: LanguageClient): void {
    this.client = client;
    this.running.clear();
    client.onNotification('buildkit/builderChanged', (params: unknown) => {
      const changed = parseBuilderChanged(params);
      if (changed) {
        this.showBuilder(changed);
      }
    });
    client.onNotification('buildkit/buildLog', (params: BuildLog) => this.appendLog(params));
  }

  /** After `client.start()`: the status item from the server's current selection. */
  async started(): Promise<void> {
    const builders = await this.listBuilders(false);
    const selected = builders?.find((b) => b.selected);
    if (selected) {
      this.showBuilder({ name: selected.name, driver: selected.driver, status: selected.status, reachable: selected.status !== 'error', message: selected.error });
    }
  }

  detach(): void {
    this.client = undefined;
    this.statusItem.hide();
  }

  /**
   * Middleware for `workspace/executeCommand`: lenses and other callers of
   * `buildkit.selectBuilder` get the quick pick instead of the server's
   * showMessageRequest; `buildkit.build` goes through the same path as the
   * Build command (log channel, result message). Returns undefined for
   * commands it does not handle.
   */
  intercept(command: string, args: unknown[], next: Next): Promise<unknown> | undefined {
    if (EXECUTING_COMMANDS.has(command) && !vscode.workspace.isTrusted) {
      // The server would refuse it too; say why and offer the way out.
      this.refuseUntrusted(command);
      return Promise.resolve(null);
    }
    if (command === 'buildkit.selectBuilder') {
      return this.selectBuilder();
    }
    if (command === 'buildkit.build') {
      const arg = args[0];
      if (typeof arg === 'object' && arg !== null && typeof (arg as BuildArgument).uri === 'string') {
        return this.build(arg as BuildArgument, next);
      }
    }
    return undefined;
  }

  /**
   * In Restricted Mode: shows why `command` is unavailable, with a button to
   * the workspace trust editor, and returns true. Otherwise false.
   */
  private refuseUntrusted(command: string): boolean {
    if (vscode.workspace.isTrusted) {
      return false;
    }
    const manage = 'Manage Workspace Trust';
    void vscode.window.showWarningMessage(restrictedMessage(command), manage).then((choice) => {
      if (choice === manage) {
        void vscode.commands.executeCommand('workbench.trust.manage');
      }
    });
    return true;
  }

  private showBuilder(changed: BuilderChanged): void {
    this.statusItem.text = statusText(changed.name, changed.driver);
    this.statusItem.tooltip = statusTooltip(changed);
    this.statusItem.backgroundColor = changed.reachable ? undefined : new vscode.ThemeColor('statusBarItem.warningBackground');
    this.statusItem.show();
  }

  private async execute(command: string, args: unknown[]): Promise<unknown> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      throw new Error('the BuildKit language server is not running');
    }
    return client.sendRequest('workspace/executeCommand', { command, arguments: args });
  }

  /**
   * *BuildKit: Show Build History*: the builder's recent builds
   * (`buildkit.buildHistory`, BuildKit's own records) in a quick pick; the
   * chosen one's report (`buildkit.buildReport`) opens as a read-only
   * markdown document.
   */
  private async showBuildHistory(): Promise<void> {
    let list: { builder?: string; builds?: Array<{ ref: string; label: string }> };
    try {
      list = (await this.execute('buildkit.buildHistory', [])) as typeof list;
    } catch (e) {
      void vscode.window.showErrorMessage(`BuildKit build history: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const builds = list?.builds ?? [];
    if (builds.length === 0) {
      void vscode.window.showInformationMessage(`Builder ${list?.builder ?? ''} has no build records`);
      return;
    }
    const pick = await vscode.window.showQuickPick(
      builds.map((b) => ({ label: b.label, ref: b.ref })),
      { title: `Builds on ${list.builder ?? 'the builder'}`, matchOnDescription: true },
    );
    if (!pick) {
      return;
    }
    try {
      const report = (await this.execute('buildkit.buildReport', [{ ref: pick.ref }])) as { markdown: string };
      const uri = vscode.Uri.from({ scheme: 'buildkit-report', path: `/build-${pick.ref}.md` });
      this.reports.set(uri.path, report.markdown);
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc, { preview: true });
    } catch (e) {
      void vscode.window.showErrorMessage(`BuildKit build report: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async listBuilders(report: boolean): Promise<BuilderInfo[] | undefined> {
    try {
      return parseBuilderList(await this.execute('buildkit.listBuilders', []));
    } catch (err) {
      if (report) {
        void vscode.window.showErrorMessage(`Could not list the BuildKit builders: ${errorText(err)}`);
      }
      return undefined;
    }
  }

  private async pickBuilder(placeHolder: string): Promise<BuilderInfo | undefined> {
    const builders = await this.listBuilders(true);
    if (!builders) {
      return undefined;
    }
    if (builders.length === 0) {
      void vscode.window.showWarningMessage('No BuildKit builder found: create one with "BuildKit: Create docker-container Builder".');
      return undefined;
    }
    const items = builderPickItems(builders);
    const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return picked ? builders.find((b) => b.name === picked.name) : undefined;
  }

  /** Quick pick → `buildkit.useBuilder`; the choice is kept in workspaceState. Result as the server's selectBuilder. */
  async selectBuilder(): Promise<unknown> {
    const picked = await this.pickBuilder('BuildKit builder for this workspace');
    if (!picked) {
      return null;
    }
    try {
      const result = await this.execute('buildkit.useBuilder', [picked.name]);
      await this.context.workspaceState.update(BUILDER_STATE_KEY, picked.name);
      return result;
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not select builder ${picked.name}: ${errorText(err)}`);
      return null;
    }
  }

  private async useBuilderGlobally(): Promise<void> {
    const picked = await this.pickBuilder('Builder to use globally (as docker buildx use)');
    if (!picked) {
      return;
    }
    try {
      await this.execute('buildkit.useBuilderGlobally', [picked.name]);
      await this.context.workspaceState.update(BUILDER_STATE_KEY, picked.name);
      void vscode.window.showInformationMessage(`${picked.name} is now the default builder of docker buildx.`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not use builder ${picked.name} globally: ${errorText(err)}`);
    }
  }

  private async createBuilder(): Promise<void> {
    if (this.refuseUntrusted('buildkit.createBuilder')) {
      return;
    }
    const name = await vscode.window.showInputBox({
      prompt: 'Name of the new docker-container builder (empty: a generated name, as docker buildx create)',
      validateInput: (value) => (value === '' || /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value) ? undefined : 'letters, digits, _ . - only'),
    });
    if (name === undefined) {
      return;
    }
    const options: Record<string, unknown> = { use: true };
    if (name !== '') {
      options.name = name;
    }
    try {
      const created = (await this.execute('buildkit.createBuilder', [options])) as { name?: unknown } | null;
      const createdName = created && typeof created.name === 'string' ? created.name : name;
      if (createdName) {
        await this.context.workspaceState.update(BUILDER_STATE_KEY, createdName);
      }
      void vscode.window.showInformationMessage(`Builder ${createdName} (docker-container) created and selected for this workspace.`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not create the builder: ${errorText(err)}`);
    }
  }

  private async manageBuilder(action: 'bootstrap' | 'stop' | 'remove'): Promise<void> {
    if (this.refuseUntrusted(`buildkit.${action}Builder`)) {
      return;
    }
    const picked = await this.pickBuilder(`Builder to ${action}`);
    if (!picked) {
      return;
    }
    if (action === 'remove') {
      const confirm = await vscode.window.showWarningMessage(`Remove builder ${picked.name} (${picked.driver})?`, { modal: true }, 'Remove');
      if (confirm !== 'Remove') {
        return;
      }
    }
    try {
      const result = (await this.execute(`buildkit.${action}Builder`, [picked.name])) as { status?: unknown } | null;
      const status = result && typeof result.status === 'string' ? result.status : 'done';
      void vscode.window.showInformationMessage(`Builder ${picked.name}: ${status}`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not ${action} builder ${picked.name}: ${errorText(err)}`);
    }
  }

  private appendLog(params: BuildLog): void {
    if (typeof params?.text !== 'string') {
      return;
    }
    if (typeof params.buildId === 'string' && !this.seenBuilds.has(params.buildId)) {
      // Builds started elsewhere (build on save) show the channel as well.
      this.seenBuilds.add(params.buildId);
      this.buildLog.show(true);
    }
    this.buildLog.append(params.text);
  }

  /** Runs `buildkit.build` and writes how it ended to the log channel. */
  private async build(arg: BuildArgument, next?: Next): Promise<unknown> {
    const key = buildKey(arg);
    this.running.set(key, arg);
    const name = arg.bakeTarget ?? arg.target ?? 'Dockerfile';
    this.buildLog.appendLine(`── build ${name} of ${vscode.Uri.parse(arg.uri).fsPath} ──`);
    this.buildLog.show(true);
    try {
      const raw = next ? await next('buildkit.build', [arg]) : await this.execute('buildkit.build', [arg]);
      const result = parseBuildResult(raw);
      if (result) {
        this.seenBuilds.add(result.buildId);
        // The server shows the result message itself (window/showMessage);
        // the channel gets it as the log's last line.
        this.buildLog.appendLine(buildSummary(result));
      }
      return raw;
    } catch (err) {
      const message = `Build of ${name} failed: ${errorText(err)}`;
      this.buildLog.appendLine(message);
      void vscode.window.showErrorMessage(message);
      return null;
    } finally {
      this.running.delete(key);
    }
  }

  /**
   * Build command: the active document's build lenses (the server knows the
   * targets) in a quick pick when there are several, else the whole file.
   */
  private async buildActiveDocument(): Promise<void> {
    if (this.refuseUntrusted('buildkit.build')) {
      return;
    }
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showWarningMessage('Open a Dockerfile or bake file to build.');
      return;
    }
    const uri = editor.document.uri;
    const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
    const builds = lenses
      .map((lens) => lens.command)
      .filter((c): c is vscode.Command => c !== undefined && c.command === 'buildkit.build' && Array.isArray(c.arguments));
    let arg: BuildArgument = buildArgument(uri.toString());
    if (builds.length === 1) {
      arg = builds[0].arguments?.[0] as BuildArgument;
    } else if (builds.length > 1) {
      const picked = await vscode.window.showQuickPick(
        builds.map((c) => ({ label: c.title, command: c })),
        { placeHolder: 'What to build' },
      );
      if (!picked) {
        return;
      }
      arg = picked.command.arguments?.[0] as BuildArgument;
    }
    await this.build(arg);
  }

  /** Cancel Build: the build this window started (asks when several run), else the active document's. */
  private async cancelBuild(): Promise<void> {
    let arg: BuildArgument | undefined;
    const running = [...this.running.values()];
    if (running.length === 1) {
      arg = running[0];
    } else if (running.length > 1) {
      const picked = await vscode.window.showQuickPick(
        running.map((r) => ({ label: r.bakeTarget ?? r.target ?? 'Dockerfile', description: vscode.Uri.parse(r.uri).fsPath, arg: r })),
        { placeHolder: 'Build to cancel' },
      );
      arg = picked?.arg;
    } else if (vscode.window.activeTextEditor) {
      arg = { uri: vscode.window.activeTextEditor.document.uri.toString() };
    }
    if (!arg) {
      return;
    }
    const cancelArg: BuildArgument = { uri: arg.uri };
    // cancelBuild takes `target`; a bake target cancels by the file alone.
    if (arg.target !== undefined) {
      cancelArg.target = arg.target;
    }
    try {
      const result = (await this.execute('buildkit.cancelBuild', [cancelArg])) as { cancelled?: unknown } | null;
      const count = result && typeof result.cancelled === 'number' ? result.cancelled : 0;
      void vscode.window.showInformationMessage(count > 0 ? `Cancelled ${count} build${count === 1 ? '' : 's'}.` : 'No build of this file is running.');
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not cancel the build: ${errorText(err)}`);
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}
