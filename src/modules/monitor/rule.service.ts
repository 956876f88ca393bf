import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  parseRules,
  validateRules,
  validateRulesYaml,
  type IdentityRule,
  type RuleIssue,
} from '../../core/monitor';
import { VellumDatabase } from '../storage/database';
import { badRequest, conflict, notFound } from './monitor-errors';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import { MonitorStateRepository } from './repositories/monitor-state.repository';
import { RuleRepository, type StoredRule } from './repositories/rule.repository';

const RULES_FILE_ERROR = 'rules_file_error';
const RULES_FILE_STATUS = 'rules_file_status';

export interface RulesFileStatus {
  readonly path: string;
  /** SHA-256 of the file content last applied. */
  readonly digest?: string;
  readonly loadedAt?: number;
  readonly rules?: number;
  /** Why the last reload was refused (the previous rules stay active). */
  readonly lastError?: {
    readonly at: number;
    readonly message: string;
    readonly errors: readonly RuleIssue[];
  };
  readonly warnings?: readonly RuleIssue[];
}

type RuleListener = (rules: readonly IdentityRule[], source: 'api' | 'file') => void | Promise<void>;

/**
 * The active identity rules: stored in monitor_rules (from the admin API and from the rules file),
 * compiled once per version. Every change bumps `rules_version` in the same transaction, so any
 * process notices with one cheap read and swaps its compiled set atomically.
 *
 * The rules file (MONITOR_RULES_PATH) is watched (fs.watch on its directory, which survives
 * editors that replace the file, plus a periodic stat). A reload is all or nothing: a file with
 * any invalid rule, or a rule whose name belongs to an API rule, is refused, logged, recorded in
 * the status, and the previous rules stay active.
 */
@Injectable()
export class RuleService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('MonitorRules');
  private compiled: readonly IdentityRule[] = [];
  private version = -1;
  private watcher: FSWatcher | undefined;
  private statTimer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastStat = '';
  private reloading: Promise<void> = Promise.resolve();
  private readonly listeners: RuleListener[] = [];
  private readonly now: () => number;
  private fileStatus: RulesFileStatus | undefined;
  private markReady: () => void = () => undefined;
  /**
   * Resolves once the rules file (if any) has been read at boot: the evaluator waits for it, so
   * no entry is evaluated against a rule set missing the file's rules.
   */
  readonly ready: Promise<void>;

  constructor(
    private readonly ruleRepo: RuleRepository,
    private readonly state: MonitorStateRepository,
    private readonly db: VellumDatabase,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) options: MonitorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.ready = new Promise<void>((r) => (this.markReady = r));
    if (config.rulesPath === undefined) this.markReady();
  }

  /** Called with the rules that were added or changed (for automatic backfills). */
  onRulesAdded(fn: RuleListener): void {
    this.listeners.push(fn);
  }

  async onApplicationBootstrap(): Promise<void> {
    const path = this.config.rulesPath;
    if (path === undefined) return;
    try {
      await this.reloadFile('boot');
    } finally {
      this.markReady();
    }
    try {
      this.watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === basename(path)) this.scheduleReload();
      });
      this.watcher.on('error', (e) =>
        this.logger.warn(`watching ${path}: ${e.message}; relying on periodic checks`),
      );
    } catch (e) {
      this.logger.warn(`cannot watch ${path}: ${(e as Error).message}; relying on periodic checks`);
    }
    this.statTimer = setInterval(() => {
      if (this.statKey() !== this.lastStat) this.scheduleReload();
    }, this.config.rulesReloadMs);
    this.statTimer.unref();
  }

  onApplicationShutdown(): void {
    this.watcher?.close();
    if (this.statTimer) clearInterval(this.statTimer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private statKey(): string {
    try {
      const s = statSync(this.config.rulesPath!);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch (e) {
      return `error:${(e as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  }

  private scheduleReload(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.reloadFile('change');
    }, 50);
    this.debounce.unref();
  }

  /** Re-reads the rules file now (also what the watcher calls). Resolves once applied or refused. */
  reloadFile(reason: 'boot' | 'change' | 'manual' = 'manual'): Promise<void> {
    const run = this.reloading.then(() => this.doReloadFile(reason));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async doReloadFile(reason: string): Promise<void> {
    const path = this.config.rulesPath;
    if (path === undefined) return;
    this.lastStat = this.statKey();
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      await this.refuseFile(path, `cannot read ${path}: ${(e as Error).message}`, []);
      return;
    }
    const digest = createHash('sha256').update(text, 'utf8').digest('hex');
    if (this.fileStatus?.digest === digest && this.fileStatus.lastError === undefined) return;
    const v = validateRulesYaml(text);
    if (v.errors.length > 0) {
      await this.refuseFile(path, `${v.errors.length} error(s) in ${path}`, v.errors);
      return;
    }
    const now = this.now();
    let added: IdentityRule[] = [];
    try {
      added = await this.db.transaction(async (tx) => {
        const existing = await this.ruleRepo.list(tx);
        const clash = v.rules.find((r) => existing.some((e) => e.name === r.id && e.source === 'api'));
        if (clash)
          throw conflict(`rule '${clash.id}' in the rules file is already defined through the admin API`);
        const wanted = new Map(v.rules.map((r) => [r.id, r]));
        let changed = false;
        const fresh: IdentityRule[] = [];
        for (const e of existing) {
          if (e.source === 'file' && !wanted.has(e.name)) {
            await this.ruleRepo.delete(tx, e.name);
            changed = true;
          }
        }
        for (const r of v.rules) {
          const e = existing.find((x) => x.name === r.id);
          if (e?.digest === r.digest) continue;
          await this.ruleRepo.upsert(tx, r.id, 'file', r.document, r.digest, now);
          fresh.push(r);
          changed = true;
        }
        if (changed) await this.ruleRepo.bumpVersion(tx);
        this.fileStatus = { path, digest, loadedAt: now, rules: v.rules.length, warnings: v.warnings };
        await this.state.setState(tx, RULES_FILE_STATUS, JSON.stringify(this.fileStatus));
        await this.state.setState(tx, RULES_FILE_ERROR, undefined);
        return fresh;
      });
    } catch (e) {
      await this.refuseFile(path, (e as Error).message, []);
      return;
    }
    for (const w of v.warnings) this.logger.warn(`${path}: ${w.path}: ${w.message}`);
    this.logger.log(`loaded ${v.rules.length} rule(s) from ${path} (${reason})`);
    await this.refresh(true);
    if (added.length > 0) await this.notify(added, 'file');
  }

  private async refuseFile(path: string, message: string, errors: readonly RuleIssue[]): Promise<void> {
    const at = this.now();
    const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    this.logger.error(
      `rules file refused, previous rules stay active: ${message}${detail ? ` (${detail})` : ''}`,
    );
    this.fileStatus = { ...(this.fileStatus ?? { path }), lastError: { at, message, errors } };
    try {
      await this.db.transaction((tx) =>
        this.state.setState(tx, RULES_FILE_ERROR, JSON.stringify(this.fileStatus!.lastError)),
      );
    } catch (e) {
      this.logger.warn(`cannot record the rules file error: ${(e as Error).message}`);
    }
  }

  private async notify(rules: readonly IdentityRule[], source: 'api' | 'file'): Promise<void> {
    for (const l of this.listeners) {
      try {
        await l(rules, source);
      } catch (e) {
        this.logger.error(`rule listener failed: ${(e as Error).message}`);
      }
    }
  }

  /** Status of the rules file as seen by any process (stored in monitor_state). */
  async rulesFileStatus(): Promise<RulesFileStatus | undefined> {
    if (this.fileStatus) return this.fileStatus;
    const s = await this.state.getState(RULES_FILE_STATUS);
    const err = await this.state.getState(RULES_FILE_ERROR);
    if (s === undefined && err === undefined) return undefined;
    const base = s === undefined ? { path: '' } : (JSON.parse(s) as RulesFileStatus);
    return err === undefined ? base : { ...base, lastError: JSON.parse(err) };
  }

  /** The compiled active rules; recompiled when another process (or this one) changed them. */
  async current(): Promise<readonly IdentityRule[]> {
    await this.refresh(false);
    return this.compiled;
  }

  async refresh(force: boolean): Promise<void> {
    const v = await this.ruleRepo.version();
    if (!force && v === this.version) return;
    const stored = await this.ruleRepo.list();
    const rules: IdentityRule[] = [];
    for (const s of stored) {
      try {
        rules.push(...parseRules(s.document).rules);
      } catch (e) {
        // Stored documents were valid when written; a newer core may reject one. Keep the rest.
        this.logger.error(`stored rule '${s.name}' no longer compiles: ${(e as Error).message}`);
      }
    }
    this.compiled = Object.freeze(rules);
    this.version = v;
  }

  async get(name: string): Promise<StoredRule> {
    const r = await this.ruleRepo.get(name);
    if (!r) throw notFound(`rule '${name}'`);
    return r;
  }

  /** Creates one rule from the admin API; 400 with the core's errors, 409 if the name exists. */
  async create(
    input: unknown,
  ): Promise<{ rule: StoredRule; compiled: IdentityRule; warnings: readonly RuleIssue[] }> {
    if (Array.isArray(input) || typeof input !== 'object' || input === null)
      throw badRequest('the body must be one rule object', {
        errors: [{ path: '(root)', message: 'expected one rule object' }],
      });
    const v = validateRules(input);
    if (v.errors.length > 0) {
      throw badRequest(`invalid rule: ${v.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, {
        errors: v.errors,
        warnings: v.warnings,
      });
    }
    const rule = v.rules[0]!;
    const now = this.now();
    await this.db.transaction(async (tx) => {
      const existing = await this.ruleRepo.get(rule.id, tx);
      if (existing) throw conflict(`a rule named '${rule.id}' already exists (source: ${existing.source})`);
      await this.ruleRepo.upsert(tx, rule.id, 'api', rule.document, rule.digest, now);
      await this.ruleRepo.bumpVersion(tx);
    });
    await this.refresh(true);
    await this.notify([rule], 'api');
    return { rule: (await this.ruleRepo.get(rule.id))!, compiled: rule, warnings: v.warnings };
  }

  async remove(name: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const existing = await this.ruleRepo.get(name, tx);
      if (!existing) throw notFound(`rule '${name}'`);
      if (existing.source === 'file')
        throw conflict(`rule '${name}' comes from the rules file; remove it there`);
      await this.ruleRepo.delete(tx, name);
      await this.ruleRepo.bumpVersion(tx);
    });
    await this.refresh(true);
  }
}
