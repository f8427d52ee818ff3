import {spawn, type ChildProcess} from 'node:child_process';
import {EventEmitter} from 'node:events';
import readline from 'node:readline';
import type pg from 'pg';
import {audit} from '../../audit.js';
import {libpqEnv, tlsQuery, type Target} from '../../db/dsn.js';
import {formatBytes, formatDuration} from '../../format.js';
import {sanitize, sanitizeMultiline} from '../../sanitize.js';
import {readCatalog, type BackupRecord} from '../backup/catalog.js';
import {targetKey} from '../../state.js';
import {countDuplicates} from './duplicates.js';
import {
	addConstraintSql,
	alembicUpdateSql,
	createIndexSql,
	dropConstraintSql,
	dropIndexSql,
	lockTimeoutSql,
	objectKind,
	qualified,
	type MigrationPlan,
	type ObjectKind,
	type PlanObject,
} from './plan.js';
import {backupCheck, blockingLines, evaluatePreflight, readFastChecks, readSlowChecks, type PreflightReport} from './preflight.js';
import {probeJobList, type Probe} from './probe.js';
import {
	backendPid,
	closeSession,
	describeError,
	isConnectionLoss,
	MigrationError,
	openSession,
	pgCode,
	releaseMigrationLock,
	takeMigrationLock,
	type ActionContext,
} from './session.js';
import {forgetCreated, readCreated, recordCreated} from './created.js';
import {inspectMigration, type Inspection, type ObjectInspection} from './status.js';

export type RunKind = 'apply' | 'downgrade';

export type StepStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'cancelled';

/** What the run does to one object, decided from its state when the run starts. */
export type StepAction = 'build' | 'rebuild' | 'attach' | 'skip' | 'drop' | 'drop-constraint' | 'leave';

export const actionLabels: Record<StepAction, string> = {
	build: 'build',
	rebuild: 'drop INVALID, rebuild',
	attach: 'attach constraint',
	skip: 'already done',
	drop: 'drop',
	'drop-constraint': 'drop constraint',
	leave: 'not ours, leave',
};

export type WaitingSession = {pid: number; application: string; state: string; xactMs?: number; query: string};

export type BuildProgress = {
	/** pg_stat_progress_create_index's phase, or the wait of a statement that reports no progress */
	phase: string;
	/** 1-based position among a concurrent build's phases */
	phaseIndex?: number;
	phaseCount: number;
	/** over the whole build, 0..1 */
	fraction?: number;
	blocks?: [number, number];
	tuples?: [number, number];
	lockers?: [number, number];
	/** the sessions the statement is waiting for right now */
	waitingFor: WaitingSession[];
};

export type RunStep = {
	name: string;
	table: string;
	kind: ObjectKind;
	action: StepAction;
	status: StepStatus;
	startedAt?: number;
	finishedAt?: number;
	progress?: BuildProgress;
	/** retries, the error, what was left behind */
	note?: string;
};

export type RunOutcome = 'running' | 'ok' | 'failed' | 'cancelled' | 'interrupted' | 'refused';

export type RunView = {
	kind: RunKind;
	via: 'plan' | 'alembic';
	outcome: RunOutcome;
	startedAt: number;
	finishedAt?: number;
	steps: RunStep[];
	/** the backend running the statements; what Cancel signals */
	buildPid?: number;
	/** the backend watching the build and verifying: also this console's own */
	controlPid?: number;
	cancelling: boolean;
	/** the outcome in one line */
	message?: string;
	/** the pre-flight blocks behind a refusal */
	refusal?: string[];
	/** alembic's output (--alembic-dir), last lines */
	log: string[];
	before?: Probe;
	after?: Probe;
	alembicFrom?: string | null;
	alembicTo?: string | null;
};

export type RunOptions = ActionContext & {
	plan: MigrationPlan;
	/** 'built-in' or the plan file, for the audit log */
	planSource?: string;
	/** run `alembic upgrade/downgrade` there instead of the plan's statements */
	alembicDir?: string;
	/** go ahead without a backup from the last 24 h */
	allowNoBackup?: boolean;
	/** for the backup check; default: the target's catalog */
	backups?: BackupRecord[];
	/** time the job list before and after an apply (default on) */
	probe?: boolean;
	/** ADD/DROP CONSTRAINT wait at most this long for ACCESS EXCLUSIVE, so queued app queries wait no longer */
	constraintLockTimeoutMs?: number;
	constraintAttempts?: number;
	pollMs?: number;
	longTransactionMs?: number;
};

const buildPhases = ['initializing', 'waiting for writers before build', 'building index', 'waiting for writers before validation', 'index validation', 'waiting for old snapshots'];

class Cancelled extends Error {}
class Interrupted extends Error {}
class Refused extends Error {
	constructor(readonly lines: string[]) {
		super(`the pre-flight blocks it: ${lines.join(' · ')}`);
	}
}

type ProgressRow = {
	pid: number;
	wait_event_type: string | null;
	wait_event: string | null;
	phase: string | null;
	blocks_total: string | null;
	blocks_done: string | null;
	tuples_total: string | null;
	tuples_done: string | null;
	lockers_total: string | null;
	lockers_done: string | null;
	index_name: string | null;
	waiting_for: WaitingSession[];
};

// The watched backends' progress and whom they wait for: pg_blocking_pids for
// lock waits, current_locker_pid for a build's "waiting for ..." phases.
const progressSql = `
SELECT a.pid, a.wait_event_type, a.wait_event, p.phase, p.blocks_total, p.blocks_done, p.tuples_total, p.tuples_done, p.lockers_total, p.lockers_done,
	(SELECT relname::text FROM pg_class WHERE oid = p.index_relid) AS index_name,
	(SELECT coalesce(json_agg(json_build_object('pid', b.pid, 'application', coalesce(b.application_name, ''), 'state', coalesce(b.state, ''),
			'xactMs', extract(epoch FROM now() - b.xact_start) * 1000, 'query', left(coalesce(b.query, ''), 200)) ORDER BY b.pid), '[]'::json)
		FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid) || coalesce(p.current_locker_pid, 0)::int)) AS waiting_for
FROM pg_stat_activity a LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid
WHERE a.pid = ANY ($1::int[]) OR (a.application_name = $2 AND a.state = 'active')`;

const pair = (done: string | null, total: string | null): [number, number] | undefined => (Number(total) > 0 ? [Number(done), Number(total)] : undefined);

function progressOf(row: ProgressRow): BuildProgress {
	const waitingFor = row.waiting_for.map(w => ({...w, application: sanitize(w.application, 60), state: sanitize(w.state, 30), query: sanitize(w.query, 200)}));
	const blocks = pair(row.blocks_done, row.blocks_total);
	const tuples = pair(row.tuples_done, row.tuples_total);
	const lockers = pair(row.lockers_done, row.lockers_total);
	if (!row.phase) {
		const phase = row.wait_event_type ? `waiting: ${row.wait_event_type} ${row.wait_event ?? ''}`.trim() : 'running';
		return {phase, phaseCount: buildPhases.length, waitingFor};
	}
	const index = buildPhases.findIndex(p => row.phase!.startsWith(p));
	// The view keeps an earlier phase's counters: only the ones this phase advances mean anything.
	const counters = row.phase.startsWith('waiting') ? {lockers} : /scanning table/.test(row.phase) ? {blocks} : {tuples};
	const counter = counters.lockers ?? counters.blocks ?? counters.tuples;
	const within = counter ? Math.min(1, counter[0] / counter[1]) : 0;
	return {
		phase: row.phase,
		phaseIndex: index >= 0 ? index + 1 : undefined,
		phaseCount: buildPhases.length,
		fraction: index >= 0 ? (index + within) / buildPhases.length : undefined,
		...counters,
		waitingFor,
	};
}

/** What to do with each object, in plan order for an apply and the reverse for a downgrade. */
/** created: what the applies recorded creating (downgrade drops only those); undefined when nothing was recorded. */
export function stepsFor(kind: RunKind, inspection: Inspection, created?: ReadonlySet<string>): RunStep[] {
	const step = (i: ObjectInspection, action: StepAction): RunStep => ({
		name: i.object.name,
		table: i.object.table,
		kind: objectKind(i.object),
		action,
		status: action === 'skip' || action === 'leave' ? 'skipped' : 'pending',
	});
	if (kind === 'apply')
		return inspection.objects.map(i => {
			if (i.state === 'valid') return step(i, 'skip');
			if (i.state === 'invalid' && !i.mismatch) return step(i, 'rebuild');
			if (i.object.unique && i.indexValid && !i.constraintAttached) return step(i, 'attach');
			return step(i, 'build');
		});
	return [...inspection.objects].reverse().map(i => {
		if (!i.present) return step(i, 'skip');
		if (i.mismatch) return step(i, 'leave');
		if (created && !created.has(i.object.name)) return {...step(i, 'leave'), note: 'there before the apply: left in place'};
		return step(i, i.object.unique && i.constraintAttached ? 'drop-constraint' : 'drop');
	});
}

/** The DSN an Alembic env.py reads (DATABASE_URL), for the target the console is on. */
function databaseUrl(t: Target): string {
	const auth = `${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password)}` : ''}@`;
	const db = encodeURIComponent(t.database);
	if (t.host.startsWith('/')) return `postgresql://${auth}/${db}?host=${encodeURIComponent(t.host)}&port=${t.port}`;
	const host = t.host.includes(':') ? `[${t.host}]` : t.host;
	return `postgresql://${auth}${host}:${t.port}/${db}${tlsQuery(t)}`;
}

/**
 * One apply or downgrade, on two connections of its own: `build` runs the
 * statements one at a time outside any transaction (CONCURRENTLY requires
 * it), `control` watches the build's progress, signals it on cancel and
 * verifies. No React: the screen and the headless command both listen to
 * 'change' (a new RunView) and 'line' (what a log would say).
 */
export class MigrationRun extends EventEmitter<{change: [RunView]; line: [string]}> {
	readonly done: Promise<RunView>;
	private current: RunView;
	private build?: pg.Client;
	private control?: pg.Client;
	private buildLost = false;
	private executing = false;
	private cancelRequested = false;
	private readonly wakers = new Set<() => void>();
	private child?: ChildProcess;
	private readonly alembicApp = `intowork-db/alembic/${process.pid}`;

	constructor(
		readonly kind: RunKind,
		private readonly options: RunOptions,
	) {
		super();
		this.current = {kind, via: options.alembicDir ? 'alembic' : 'plan', outcome: 'running', startedAt: Date.now(), steps: [], cancelling: false, log: []};
		// After the caller's synchronous code, so its listeners see every event.
		this.done = Promise.resolve().then(() => this.execute());
	}

	view(): RunView {
		return this.current;
	}

	/**
	 * Stops the statement running now (pg_cancel_backend of the build's own
	 * backend, or SIGINT to alembic), drops the INVALID index it leaves, and
	 * ends the run; what was finished stays. A second cancel also stops that clean-up.
	 */
	async cancel(): Promise<void> {
		if (this.current.outcome !== 'running') return;
		const again = this.cancelRequested;
		this.cancelRequested = true;
		this.update({cancelling: true});
		this.say(again ? 'cancel: stopping the clean-up too' : 'cancel: stopping the current statement');
		for (const wake of [...this.wakers]) wake();
		if (this.child) {
			this.child.kill('SIGINT');
			// alembic's own cancel waits for the socket; the server should stop the build now.
			await this.control?.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [this.alembicApp]).catch(() => undefined);
			return;
		}
		if (this.executing) await this.cancelBackend();
	}

	private get plan(): MigrationPlan {
		return this.options.plan;
	}

	private get pollMs(): number {
		return this.options.pollMs ?? 500;
	}

	private update(patch: Partial<RunView>) {
		this.current = {...this.current, ...patch};
		this.emit('change', this.current);
	}

	private updateStep(name: string, patch: Partial<RunStep>) {
		this.update({steps: this.current.steps.map(s => (s.name === name ? {...s, ...patch} : s))});
	}

	private step(name: string): RunStep {
		return this.current.steps.find(s => s.name === name)!;
	}

	private say(line: string) {
		this.emit('line', line);
	}

	private async cancelBackend() {
		const pid = this.current.buildPid;
		if (pid) await this.control?.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
	}

	/** A pause that cancel() cuts short. */
	private async sleep(ms: number) {
		await new Promise<void>(resolve => {
			const wake = () => {
				clearTimeout(timer);
				this.wakers.delete(wake);
				resolve();
			};
			const timer = setTimeout(wake, ms);
			this.wakers.add(wake);
		});
		if (this.cancelRequested) throw new Cancelled();
	}

	private async preflight(inspection: Inspection): Promise<PreflightReport> {
		const db = this.build!;
		const fast = await readFastChecks(db, this.plan, this.options.longTransactionMs);
		const slow = this.kind === 'apply' ? await readSlowChecks(db, this.plan, inspection) : undefined;
		const backups = this.options.backups ?? readCatalog(targetKey(this.options.target));
		const report = evaluatePreflight(this.kind, this.plan, inspection, fast, slow, backupCheck(backups));
		for (const item of report.items) if (item.level === 'warn') this.say(`pre-flight warning: ${item.title}: ${item.summary}`);
		return report;
	}

	private async execute(): Promise<RunView> {
		const {plan, target} = this.options;
		const action = `migrate.${this.kind}`;
		try {
			this.build = await openSession(target);
			this.build.on('end', () => (this.buildLost = true));
			this.control = await openSession(target);
			// The control connection only reads; it must never hang the run.
			await this.control.query("SET statement_timeout = '30s'");
			await takeMigrationLock(this.control);
			this.update({buildPid: backendPid(this.build), controlPid: backendPid(this.control)});
			const inspection = await inspectMigration(this.control, plan);
			const created = this.kind === 'downgrade' ? await readCreated(this.control, plan) : undefined;
			if (this.kind === 'downgrade' && !created && inspection.objects.some(i => i.present && !i.mismatch))
				this.say('no record of what an apply created here (applied by Alembic or by hand): every object of the plan is dropped');
			this.update({steps: stepsFor(this.kind, inspection, created), alembicFrom: inspection.alembicVersion});
			const report = await this.preflight(inspection);
			if (report.blocked || (report.needsOverride && !this.options.allowNoBackup)) throw new Refused(blockingLines(report));
			if (report.needsOverride) this.say(`pre-flight override: ${blockingLines(report).join('; ')}`);
			this.record(action, 'started', {
				via: this.current.via,
				plan: this.options.planSource ?? 'built-in',
				revision: this.kind === 'apply' ? plan.revision : plan.previousRevision,
				overrides: report.needsOverride ? blockingLines(report) : undefined,
				steps: this.current.steps.filter(s => s.status === 'pending').map(s => `${s.action} ${s.name}`),
			});
			const probe = this.kind === 'apply' && this.options.probe !== false;
			if (probe) this.update({before: await probeJobList(this.control)});
			if (this.current.via === 'alembic') await this.runAlembic(inspection);
			else for (const s of this.current.steps) if (s.status === 'pending') await this.runStep(s);
			await this.finish();
			if (probe) this.update({after: await probeJobList(this.control)});
			this.end('ok', this.summary());
		} catch (error) {
			this.fail(error);
		} finally {
			// Refusals and failures before the start are recorded too: someone tried.
			const v = this.current;
			this.record(action, v.outcome === 'ok' ? 'ok' : `${v.outcome}: ${v.message ?? ''}`, {
				via: v.via,
				steps: v.steps.filter(s => s.status !== 'skipped' && s.status !== 'pending').map(s => ({name: s.name, action: s.action, status: s.status, ms: s.finishedAt && s.startedAt ? s.finishedAt - s.startedAt : undefined, note: s.note})),
				refusal: v.refusal,
			});
			if (this.control) await releaseMigrationLock(this.control);
			await closeSession(this.build);
			await closeSession(this.control);
		}
		return this.current;
	}

	private record(action: string, result: string, detail: Record<string, unknown>) {
		if (!this.options.audit) return;
		try {
			audit(this.options.audit, {action, result, pids: this.current.buildPid ? [this.current.buildPid] : undefined, detail});
		} catch (error) {
			this.say(`audit log not written: ${describeError(error)}`);
		}
	}

	private end(outcome: RunOutcome, message: string, patch: Partial<RunView> = {}) {
		const finishedAt = Date.now();
		const steps = this.current.steps.map(s => (s.status === 'running' ? {...s, status: outcome === 'cancelled' ? ('cancelled' as const) : ('failed' as const), finishedAt} : s));
		this.update({outcome, message, finishedAt, steps, cancelling: false, ...patch});
		this.say(message);
	}

	private fail(error: unknown) {
		// A run stops at its first failed step, which runStep has already marked.
		const stopped = this.current.steps.find(s => s.status === 'running' || s.status === 'failed' || s.status === 'cancelled');
		// Under alembic a running step is only what the catalog showed last, not where it stopped.
		const at = stopped && this.current.via === 'plan' ? ` at ${stopped.name}` : '';
		if (error instanceof Refused) return this.end('refused', `refused: ${error.message}`, {refusal: error.lines, steps: []});
		if (error instanceof Cancelled) return this.end('cancelled', `cancelled${at}; finished objects stay, ${this.kind} again to resume`);
		if (error instanceof Interrupted) return this.end('interrupted', `interrupted${at}: ${error.message}`);
		this.end('failed', `failed${at}: ${describeError(error)}`);
	}

	private summary(): string {
		const took = formatDuration(Date.now() - this.current.startedAt);
		const count = (a: StepAction) => this.current.steps.filter(s => s.action === a && s.status === 'done').length;
		if (this.kind === 'downgrade') {
			const kept = this.current.steps.filter(s => s.action === 'leave' && s.note?.startsWith('there before')).map(s => s.name);
			const leaves = kept.length ? `; left ${kept.length} that were there before the apply: ${kept.join(', ')}` : '';
			return `downgraded to ${this.plan.previousRevision} in ${took}: ${count('drop') + count('drop-constraint')} objects dropped${leaves}; alembic_version ${this.current.alembicFrom ?? '-'} → ${this.current.alembicTo ?? '-'}`;
		}
		const done = this.current.via === 'alembic' ? `alembic upgrade ${this.plan.revision}, every object verified` : `${count('build')} built, ${count('rebuild')} rebuilt, ${count('attach')} attached, ${this.current.steps.filter(s => s.action === 'skip').length} already valid`;
		return `applied ${this.plan.revision} in ${took}: ${done}; alembic_version ${this.current.alembicFrom ?? '-'} → ${this.current.alembicTo ?? '-'}`;
	}

	// ------------------------------------------------------------ statements

	/** Runs one statement on the build connection while a watcher follows its progress. */
	private async exec(s: RunStep, sql: string, options: {cleanup?: boolean} = {}): Promise<pg.QueryResult> {
		if (this.cancelRequested && !options.cleanup) throw new Cancelled();
		if (this.buildLost) throw new Interrupted(`the build connection is gone (pid ${this.current.buildPid})`);
		this.say(`  ${sql};`);
		this.executing = true;
		const query = this.build!.query(sql);
		// A cancel that arrived between the check above and the query reaching the server.
		if (this.cancelRequested && !options.cleanup) void this.cancelBackend();
		const watcher = this.watch(progress => this.updateStep(s.name, {progress}));
		try {
			return await query;
		} catch (error) {
			if (this.buildLost || isConnectionLoss(error)) throw new Interrupted(`the build's backend (pid ${this.current.buildPid}) is gone: ${describeError(error)}`);
			if (pgCode(error) === '57014' && this.cancelRequested) throw new Cancelled();
			throw error;
		} finally {
			this.executing = false;
			await watcher();
		}
	}

	/** Polls progress every pollMs until the returned stop function is awaited. */
	private watch(onProgress: (p: BuildProgress, row: ProgressRow) => void, byApplication?: string): () => Promise<void> {
		let stopped = false;
		let wake: (() => void) | undefined;
		const loop = (async () => {
			while (!stopped) {
				await new Promise<void>(resolve => {
					const timer = setTimeout(resolve, this.pollMs);
					wake = () => {
						clearTimeout(timer);
						resolve();
					};
				});
				if (stopped) break;
				const pids = byApplication ? [] : [this.current.buildPid ?? 0];
				const rows = await this.control!.query<ProgressRow>(progressSql, [pids, byApplication ?? null]).catch(() => undefined);
				if (stopped || !rows) continue;
				for (const row of rows.rows) onProgress(progressOf(row), row);
			}
		})();
		return async () => {
			stopped = true;
			wake?.();
			await loop;
		};
	}

	private async runStep(s: RunStep) {
		const o = this.plan.objects.find(x => x.name === s.name)!;
		this.updateStep(s.name, {status: 'running', startedAt: Date.now()});
		this.say(`▸ ${actionLabels[s.action]} ${s.name} on ${s.table}`);
		try {
			switch (s.action) {
				case 'rebuild':
				case 'build':
					if (s.action === 'rebuild') await this.exec(s, dropIndexSql(this.plan, o));
					if (o.unique) await this.refuseDuplicates(o);
					await this.create(s, o);
					if (o.unique) await this.withLockRetries(s, o, addConstraintSql(this.plan, o));
					break;
				case 'attach':
					await this.withLockRetries(s, o, addConstraintSql(this.plan, o));
					break;
				case 'drop-constraint':
					await this.withLockRetries(s, o, dropConstraintSql(this.plan, o));
					break;
				case 'drop':
					await this.exec(s, dropIndexSql(this.plan, o));
					break;
				default:
					break;
			}
			// recorded at once, so a downgrade after a failed or cancelled apply still knows
			if (this.kind === 'apply') await recordCreated(this.build!, this.plan, [o.name]);
			else await forgetCreated(this.build!, this.plan, [o.name]);
			const size = this.kind === 'apply' ? await this.indexSize(o) : undefined;
			this.updateStep(s.name, {status: 'done', finishedAt: Date.now(), progress: undefined});
			this.say(`✓ ${s.name} ${this.kind === 'apply' ? 'valid' : 'dropped'} in ${formatDuration(Date.now() - this.step(s.name).startedAt!)}${size ? ` (${formatBytes(size)})` : ''}`);
		} catch (error) {
			const cancelled = error instanceof Cancelled;
			const cause = cancelled ? 'cancelled' : error instanceof Interrupted ? error.message : describeError(error);
			// What was left behind follows the cause; a retry's progress note is superseded by it.
			const left = this.step(s.name).note;
			const note = [cause, left && !left.startsWith('attempt') ? left : undefined].filter(Boolean).join('; ');
			this.updateStep(s.name, {status: cancelled ? 'cancelled' : 'failed', finishedAt: Date.now(), note});
			this.say(`✗ ${s.name}: ${note}`);
			throw error;
		}
	}

	private async indexSize(o: PlanObject): Promise<number | undefined> {
		const r = await this.control!.query<{size: string | null}>('SELECT pg_relation_size(to_regclass($1)) AS size', [qualified(this.plan, o.name)]).catch(() => undefined);
		return r?.rows[0]?.size ? Number(r.rows[0].size) : undefined;
	}

	/** New duplicates can arrive between the pre-flight and this step; a unique build would fail on them after a full scan. */
	private async refuseDuplicates(o: PlanObject) {
		const [d] = await countDuplicates(this.build!, this.plan, [o]);
		if (d && d.groups > 0)
			throw new MigrationError(`${d.groups} duplicate groups in ${o.table} (${o.columns.join(', ')}): archive them (d, or migrate --resolve-duplicates) and apply again`);
	}

	/**
	 * A failed or cancelled concurrent build leaves an INVALID index that every
	 * write still maintains (and a unique one still enforces): drop it now.
	 * When the build's backend is gone there is nothing to drop it with; the
	 * next apply does it.
	 */
	private async create(s: RunStep, o: PlanObject) {
		try {
			await this.exec(s, createIndexSql(this.plan, o));
		} catch (error) {
			const left = (await inspectMigration(this.control!, {...this.plan, objects: [o]}).catch(() => undefined))?.objects[0];
			const invalid = left?.present && !left.indexValid && !left.mismatch;
			if (error instanceof Interrupted) {
				if (invalid) this.updateStep(s.name, {note: 'left INVALID; the next apply drops and rebuilds it'});
				throw error;
			}
			if (invalid) {
				try {
					await this.exec(s, dropIndexSql(this.plan, o), {cleanup: true});
					this.updateStep(s.name, {note: 'its INVALID index was dropped'});
				} catch (cleanup) {
					this.updateStep(s.name, {note: `left INVALID (${cleanup instanceof Cancelled ? 'clean-up cancelled' : describeError(cleanup)}); the next apply drops it`});
				}
			}
			throw error;
		}
	}

	/**
	 * ADD/DROP CONSTRAINT need ACCESS EXCLUSIVE, and while they wait for it
	 * every app query on the table queues behind them: wait a short
	 * lock_timeout, step back, retry.
	 */
	private async withLockRetries(s: RunStep, o: PlanObject, sql: string) {
		const timeoutMs = this.options.constraintLockTimeoutMs ?? 500;
		const attempts = this.options.constraintAttempts ?? 8;
		for (let attempt = 1; ; attempt++) {
			await this.build!.query(lockTimeoutSql(timeoutMs));
			try {
				await this.exec(s, sql);
				return;
			} catch (error) {
				if (pgCode(error) !== '55P03') throw error;
				const holders = await this.lockHolders(o.table);
				const who = holders.length ? `held by ${holders.join(', ')}` : 'held by a session that has since ended';
				if (attempt >= attempts) {
					const left = sql === addConstraintSql(this.plan, o) ? '; the unique index is valid and stays, the next apply only attaches it' : '';
					throw new MigrationError(`no ACCESS EXCLUSIVE lock on ${o.table} within ${timeoutMs} ms in ${attempts} attempts (${who}); end those sessions (Connections screen, key 2, k) and try again${left}`);
				}
				const backoff = Math.min(8000, 250 * 2 ** attempt);
				const note = `attempt ${attempt}/${attempts}: lock on ${o.table} not granted within ${timeoutMs} ms (${who}); retrying in ${formatDuration(backoff)}`;
				this.updateStep(s.name, {note});
				this.say(`  ${note}`);
				await this.sleep(backoff);
			} finally {
				await this.build!.query('SET lock_timeout = 0').catch(() => undefined);
			}
		}
	}

	private async lockHolders(table: string): Promise<string[]> {
		const r = await this.control!.query<{pid: number; application_name: string | null; state: string | null}>(
			`SELECT DISTINCT l.pid, a.application_name, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.relation = to_regclass($1) AND l.granted AND l.pid <> $2 ORDER BY l.pid`,
			[qualified(this.plan, table), this.current.buildPid ?? 0],
		).catch(() => undefined);
		return (r?.rows ?? []).map(h => `pid ${h.pid} ${sanitize(h.application_name, 40)} ${sanitize(h.state, 30)}`.trim());
	}

	/** The run is only done when the catalog says so; alembic_version moves last, guarded by its expected value. */
	private async finish() {
		const inspection = await inspectMigration(this.control!, this.plan);
		const from = this.kind === 'apply' ? this.plan.previousRevision : this.plan.revision;
		const to = this.kind === 'apply' ? this.plan.revision : this.plan.previousRevision;
		const left =
			this.kind === 'apply'
				? inspection.objects.filter(i => i.state !== 'valid').map(i => `${i.object.name} ${i.state}`)
				: inspection.objects.filter(i => i.present && !i.mismatch && this.step(i.object.name)?.action !== 'leave').map(i => `${i.object.name} still present`);
		if (left.length) throw new MigrationError(`not done: ${left.join(', ')}; alembic_version left at ${inspection.alembicVersion}`);
		// under Alembic the steps were not run one by one: what was not valid before, it created
		if (this.kind === 'apply') await recordCreated(this.build!, this.plan, this.current.steps.filter(s => s.action !== 'skip').map(s => s.name));
		if (inspection.alembicVersion !== to) {
			const r = await this.build!.query(alembicUpdateSql(this.plan), [to, from]);
			if (r.rowCount !== 1) throw new MigrationError(`alembic_version is no longer ${from} (someone ran Alembic meanwhile?); not updated`);
			this.say(`alembic_version ${from} → ${to}`);
		}
		this.update({alembicTo: to});
	}

	// ------------------------------------------------------------ alembic

	private log(line: string) {
		this.update({log: [...this.current.log, line].slice(-200)});
		this.say(`  alembic: ${line}`);
	}

	/**
	 * `alembic upgrade|downgrade REV` in the backend's directory, its output
	 * streamed into the run; the steps follow what the catalog shows. Its
	 * sessions carry our application_name (PGAPPNAME) so they can be watched
	 * and cancelled.
	 */
	private async runAlembic(initial: Inspection) {
		const dir = this.options.alembicDir!;
		const revision = this.kind === 'apply' ? this.plan.revision : this.plan.previousRevision;
		const args = [this.kind === 'apply' ? 'upgrade' : 'downgrade', revision];
		this.say(`$ alembic ${args.join(' ')}   (in ${dir})`);
		const child = spawn('alembic', args, {
			cwd: dir,
			env: {...process.env, ...libpqEnv(this.options.target), DATABASE_URL: databaseUrl(this.options.target), PGAPPNAME: this.alembicApp},
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		this.child = child;
		for (const stream of [child.stdout, child.stderr]) readline.createInterface({input: stream}).on('line', line => this.log(sanitizeMultiline(line, 1, 500)));
		const stopWatch = this.watch((progress, row) => {
			const s = this.current.steps.find(x => x.name === row.index_name);
			if (s && (s.status === 'pending' || s.status === 'running')) this.updateStep(s.name, {status: 'running', startedAt: s.startedAt ?? Date.now(), progress});
		}, this.alembicApp);
		const timer = setInterval(() => void this.followCatalog(), this.pollMs);
		let code: number | null;
		try {
			code = await new Promise<number | null>((resolve, reject) => {
				child.once('error', reject);
				child.once('close', resolve);
			});
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT')
				throw new MigrationError("alembic is not on PATH: activate the backend's virtualenv (or put its bin directory on PATH) and try again");
			throw error;
		} finally {
			clearInterval(timer);
			await stopWatch();
			this.child = undefined;
		}
		await this.followCatalog();
		if (this.cancelRequested || code !== 0) {
			await this.dropLeftovers(initial);
			if (this.cancelRequested) throw new Cancelled();
			const last = [...this.current.log].reverse().find(l => l.trim());
			throw new MigrationError(`alembic exited with ${code ?? 'a signal'}${last ? `: ${last}` : ''}`);
		}
	}

	private async followCatalog() {
		const inspection = await inspectMigration(this.control!, this.plan).catch(() => undefined);
		if (!inspection) return;
		for (const i of inspection.objects) {
			const s = this.step(i.object.name);
			const finished = this.kind === 'apply' ? i.state === 'valid' : !i.present;
			if ((s.status === 'pending' || s.status === 'running') && finished) this.updateStep(s.name, {status: 'done', startedAt: s.startedAt ?? Date.now(), finishedAt: Date.now(), progress: undefined});
		}
	}

	/** After alembic failed or was cancelled: the plan's indexes it left INVALID, which were not INVALID before. */
	private async dropLeftovers(initial: Inspection) {
		const now = await inspectMigration(this.control!, this.plan);
		for (const i of now.objects) {
			const before = initial.objects.find(x => x.object.name === i.object.name);
			if (!i.present || i.indexValid || i.mismatch || (before?.present && !before.indexValid)) continue;
			const s = this.step(i.object.name);
			try {
				await this.exec(s, dropIndexSql(this.plan, i.object), {cleanup: true});
				this.updateStep(s.name, {note: 'its INVALID index was dropped'});
			} catch (error) {
				this.updateStep(s.name, {note: `left INVALID (${describeError(error)}); the next apply drops it`});
			}
		}
	}
}

export const startApply = (options: RunOptions) => new MigrationRun('apply', options);
export const startDowngrade = (options: RunOptions) => new MigrationRun('downgrade', options);
