import type {AuditContext} from '../audit.js';
import {readCatalog} from '../actions/backup/catalog.js';
import {countDuplicates, latestArchive, resolveDuplicates, undoDuplicates} from '../actions/migration/duplicates.js';
import {
	addConstraintSql,
	alembicUpdateText,
	createIndexSql,
	dropIndexSql,
	lockTimeoutSql,
	planDocument,
	type MigrationPlan,
} from '../actions/migration/plan.js';
import {readCreated} from '../actions/migration/created.js';
import {backupCheck, evaluatePreflight, readFastChecks, readSlowChecks, type PreflightReport} from '../actions/migration/preflight.js';
import {actionLabels, MigrationRun, startApply, startDowngrade, stepsFor, type RunKind, type RunStep, type RunView} from '../actions/migration/run.js';
import {auditContext} from '../audit.js';
import {targetKey} from '../state.js';
import {closeSession, describeError, openSession} from '../actions/migration/session.js';
import type {MigrationSettings} from '../actions/migration/settings.js';
import {inspectMigration, statusOf, type Inspection} from '../actions/migration/status.js';
import {CliError, ExitCode, UsageError} from '../errors.js';
import {formatDuration, formatMs, formatNumber} from '../format.js';
import {openFromFlags, type Opened} from '../session.js';
import {phaseProgress, type PhaseProgress} from './progress.js';
import type {Subcommand, SubcommandContext} from './types.js';

const modes = ['status', 'plan', 'apply', 'resolveDuplicates', 'undoDuplicates', 'downgrade'] as const;
type Mode = (typeof modes)[number];

const flagName = (m: string) => `--${m.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)}`;

const marks = {ok: '✓', info: '·', warn: '!', block: '✗'} as const;

type Context = {ctx: SubcommandContext; opened: Opened; settings: MigrationSettings; audit: AuditContext; progress: PhaseProgress};

const plan = (c: Context): MigrationPlan => c.settings.plan;

async function readState(c: Context, mode: 'apply' | 'downgrade'): Promise<{inspection: Inspection; report: PreflightReport}> {
	// The slow checks scan whole tables: on a connection without the monitor's 5 s cap.
	const session = await openSession(c.opened.target);
	try {
		c.progress.show('inspect', `reading the ${plan(c).objects.length} objects of ${plan(c).revision} from the catalog`);
		const inspection = await inspectMigration(session, plan(c));
		c.progress.show('fast', 'pre-flight: open transactions, locks, free space');
		const fast = await readFastChecks(session, plan(c));
		if (mode === 'apply') c.progress.show('slow', 'pre-flight: counting duplicate rows (reads whole tables)');
		const slow = mode === 'apply' ? await readSlowChecks(session, plan(c), inspection) : undefined;
		const report = evaluatePreflight(mode, plan(c), inspection, fast, slow, backupCheck(readCatalog(targetKey(c.opened.target))));
		return {inspection, report};
	} finally {
		c.progress.clear();
		await closeSession(session);
	}
}

function printStatus(c: Context, inspection: Inspection) {
	const status = statusOf(plan(c), inspection);
	const out = c.ctx.out;
	out(`Migration ${plan(c).revision} (${c.settings.planSource} plan) on ${c.opened.redacted}: ${status.applied ? 'APPLIED' : 'NOT APPLIED'}`);
	out(`alembic_version  ${inspection.alembicVersion === undefined ? '(no table)' : (inspection.alembicVersion ?? '(empty)')} (target ${plan(c).revision})`);
	const count = (s: string) => status.objects.filter(o => o.state === s).length;
	const differ = status.objects.filter(o => o.differs).length;
	out(`objects          ${count('valid')} of ${status.objects.length} valid, ${count('missing')} missing, ${count('invalid') - differ} invalid, ${differ} present with a different definition, ${count('building')} building`);
	out('');
	for (const i of inspection.objects) {
		const kind = i.object.unique ? 'unique' : 'index';
		out(`  ${i.state.padEnd(9)} ${kind.padEnd(7)} ${i.object.table.padEnd(22)} ${i.object.name}${i.state === 'valid' ? '' : `  (${i.detail})`}`);
	}
}

function printPreflight(c: Context, report: PreflightReport, title: string) {
	c.ctx.out('');
	c.ctx.out(title);
	for (const item of report.items) {
		c.ctx.out(`  ${marks[item.level]} ${item.title}: ${item.summary}`);
		for (const line of item.lines) c.ctx.out(`      ${line}`);
	}
}

function printSteps(c: Context, steps: readonly RunStep[]) {
	const todo = steps.filter(s => s.status === 'pending');
	c.ctx.out('');
	c.ctx.out(todo.length ? `Would do, in this order (${todo.length} of ${steps.length} objects):` : 'Nothing to do for the objects.');
	for (const s of todo) c.ctx.out(`  ${actionLabels[s.action].padEnd(22)} ${s.name} on ${s.table}`);
	for (const s of steps) if (s.action === 'leave' && s.note) c.ctx.out(`  would leave            ${s.name} on ${s.table}: ${s.note}`);
}

/** The statements an apply would run here, in order; the engine builds them with the same functions. */
function printPlanSql(c: Context, inspection: Inspection) {
	const p = plan(c);
	const out = c.ctx.out;
	out(`-- Migration ${p.revision} (${c.settings.planSource} plan) on ${c.opened.redacted}`);
	out('-- Each statement runs on its own, outside a transaction: CONCURRENTLY cannot run inside one.');
	for (const s of stepsFor('apply', inspection)) {
		const o = p.objects.find(x => x.name === s.name)!;
		out('');
		const differs = inspection.objects.find(i => i.object.name === o.name)?.mismatch;
		out(`-- ${o.name} on ${o.table}: ${s.action === 'skip' ? 'valid, nothing to do' : differs ? 'present with a different definition' : actionLabels[s.action]}`);
		out(`--   serves ${o.serves}`);
		if (s.action === 'skip') continue;
		if (differs) {
			// the apply refuses while it is there: the statement below would fail on the name
			out(`--   ${differs}`);
			out(`--   fix first: ${inspection.objects.find(i => i.object.name === o.name)?.fix}`);
			out(`-- then: ${createIndexSql(p, o)};`);
			continue;
		}
		if (s.action === 'rebuild') out(`${dropIndexSql(p, o)};`);
		if (s.action !== 'attach') out(`${createIndexSql(p, o)};`);
		if (o.unique) {
			out(`${lockTimeoutSql(500)};  -- retried up to 8 times with back-off while the app holds locks`);
			out(`${addConstraintSql(p, o)};`);
			out('SET lock_timeout = 0;');
		}
	}
	out('');
	if (inspection.alembicVersion === p.revision) out(`-- alembic_version is already ${p.revision}`);
	else {
		out('-- Last, once every object above is verified valid:');
		out(`${alembicUpdateText(p, p.revision, p.previousRevision)};`);
	}
}

function progressLine(s: RunStep): string | undefined {
	const p = s.progress;
	if (!p) return undefined;
	const pct = p.fraction === undefined ? '' : ` ${Math.round(p.fraction * 100)}%`;
	const counters = [p.blocks && `blocks ${formatNumber(p.blocks[0])}/${formatNumber(p.blocks[1])}`, p.tuples && `tuples ${formatNumber(p.tuples[0])}/${formatNumber(p.tuples[1])}`]
		.filter(Boolean)
		.join(', ');
	const waiting = p.waitingFor.length ? ` · waiting for ${p.waitingFor.map(w => `pid ${w.pid} (${w.application || w.state})`).join(', ')}` : '';
	return `  … ${s.name}: ${p.phase}${pct}${counters ? ` (${counters})` : ''}${waiting} · ${formatDuration(Date.now() - (s.startedAt ?? Date.now()))}`;
}

/** Streams a run to the terminal; the first Ctrl-C cancels it cleanly, a second one the clean-up too. */
async function follow(c: Context, run: MigrationRun): Promise<RunView> {
	let lastProgress = 0;
	run.on('line', line => c.ctx.out(line));
	run.on('change', view => {
		const s = view.steps.find(x => x.status === 'running' && x.progress);
		if (!s || Date.now() - lastProgress < 5000) return;
		lastProgress = Date.now();
		const line = progressLine(s);
		if (line) c.ctx.out(line);
	});
	const onSigint = () => void run.cancel();
	process.on('SIGINT', onSigint);
	try {
		const view = await run.done;
		for (const [label, probe] of [['before', view.before], ['after', view.after]] as const) {
			if (!probe) continue;
			c.ctx.out('error' in probe ? `job list ${label}: not measured (${probe.error})` : `job list ${label}: ${probe.scan}, p50 ${formatMs(probe.p50Ms)}, p95 ${formatMs(probe.p95Ms)} over ${probe.runs} searches`);
		}
		return view;
	} finally {
		process.off('SIGINT', onSigint);
	}
}

async function runChange(c: Context, kind: RunKind): Promise<number> {
	const {inspection, report} = await readState(c, kind);
	const allowNoBackup = Boolean(c.ctx.flags.withoutBackup);
	if (!c.ctx.flags.yes) {
		printStatus(c, inspection);
		printPreflight(c, report, `Pre-flight for ${kind === 'apply' ? 'an apply' : 'a downgrade'}:`);
		printSteps(c, stepsFor(kind, inspection, kind === 'downgrade' ? await readCreated(c.opened.monitor, plan(c)) : undefined));
		const refused = report.blocked || (report.needsOverride && !allowNoBackup);
		c.ctx.out('');
		c.ctx.out(refused ? `The pre-flight blocks ${kind === 'apply' ? 'the apply' : 'the downgrade'}. Nothing was changed.` : `Nothing was changed: add --yes to ${kind}.`);
		return refused ? ExitCode.failed : ExitCode.ok;
	}
	const options = {target: c.opened.target, audit: c.audit, plan: plan(c), planSource: c.settings.planSource, alembicDir: c.settings.alembicDir, allowNoBackup};
	const view = await follow(c, kind === 'apply' ? startApply(options) : startDowngrade(options));
	if (view.outcome !== 'ok') throw new CliError(`intowork-db migrate: ${view.message ?? view.outcome}`, ExitCode.failed);
	return ExitCode.ok;
}

async function runResolve(c: Context): Promise<number> {
	const out = c.ctx.out;
	if (!c.ctx.flags.yes) {
		const session = await openSession(c.opened.target);
		try {
			const counts = await countDuplicates(session, plan(c));
			const total = counts.reduce((n, d) => n + d.extraRows, 0);
			for (const d of counts) out(`${d.object}: ${formatNumber(d.groups)} groups, ${formatNumber(d.extraRows)} rows to archive from ${d.table} (${d.columns.join(', ')})`);
			out(total ? `Would move ${formatNumber(total)} rows into ${plan(c).archiveSchema}, keeping the first of each group. Nothing was changed: add --yes to archive them.` : 'No duplicates: nothing to archive.');
		} finally {
			await closeSession(session);
		}
		return ExitCode.ok;
	}
	const r = await resolveDuplicates({target: c.opened.target, audit: c.audit}, plan(c));
	for (const t of r.tables) out(`${t.table}: ${formatNumber(t.rows)} rows moved to ${t.archive}`);
	out(`archived in one transaction as batch ${r.batch}; undo with: intowork-db migrate --undo-duplicates --yes`);
	return ExitCode.ok;
}

async function runUndo(c: Context): Promise<number> {
	const out = c.ctx.out;
	if (!c.ctx.flags.yes) {
		const session = await openSession(c.opened.target);
		try {
			const latest = await latestArchive(session, plan(c));
			if (!latest) out('The archive holds no duplicates: nothing to restore.');
			else {
				for (const t of latest.tables) out(`${t.archive}: ${formatNumber(t.rows)} rows would go back to ${t.table}`);
				out(`from batch ${latest.batch}. Nothing was changed: add --yes to restore them.`);
			}
		} finally {
			await closeSession(session);
		}
		return ExitCode.ok;
	}
	const r = await undoDuplicates({target: c.opened.target, audit: c.audit}, plan(c));
	for (const t of r.tables) out(`${t.table}: ${formatNumber(t.rows)} rows restored from ${t.archive}`);
	out(`batch ${r.batch} restored in one transaction`);
	return ExitCode.ok;
}

async function run(ctx: SubcommandContext): Promise<number> {
	const chosen = modes.filter(m => ctx.flags[m]);
	if (chosen.length !== 1) throw new UsageError(`migrate: give exactly one of ${modes.map(flagName).join(', ')}`);
	const mode: Mode = chosen[0]!;
	if (ctx.flags.json && mode !== 'status' && mode !== 'plan') throw new UsageError('migrate: --json goes with --status or --plan');
	if (ctx.flags.withoutBackup && mode !== 'apply') throw new UsageError('migrate: --without-backup goes with --apply');
	const settings = ctx.global.config.migration;
	if (mode === 'plan' && ctx.flags.json) {
		ctx.out(planDocument(settings.plan));
		return ExitCode.ok;
	}
	const progress = phaseProgress();
	progress.show('connecting', 'connecting to the server');
	const opened = await openFromFlags(ctx.global).finally(() => progress.clear());
	const c: Context = {ctx, opened, settings, audit: auditContext(opened.target, opened.caps.role), progress};
	try {
		switch (mode) {
			case 'status': {
				const {inspection, report} = await readState(c, 'apply');
				const status = statusOf(plan(c), inspection);
				if (ctx.flags.json) ctx.out(JSON.stringify({...status, preflight: report.items}, null, 2));
				else {
					printStatus(c, inspection);
					if (!status.applied) printPreflight(c, report, 'Pre-flight for an apply:');
				}
				return status.applied ? ExitCode.ok : ExitCode.failed;
			}
			case 'plan':
				printPlanSql(c, await inspectMigration(opened.monitor, plan(c)));
				return ExitCode.ok;
			case 'apply':
				return await runChange(c, 'apply');
			case 'downgrade':
				return await runChange(c, 'downgrade');
			case 'resolveDuplicates':
				return await runResolve(c);
			case 'undoDuplicates':
				return await runUndo(c);
		}
	} catch (error) {
		if (error instanceof CliError || error instanceof UsageError) throw error;
		throw new CliError(`intowork-db migrate: ${describeError(error)}`, ExitCode.failed);
	} finally {
		await opened.close();
	}
}

export const migrateCommand: Subcommand = {
	name: 'migrate',
	summary: `apply migration h8c2d6e5f4g3 without locking the app out (status, plan, apply, duplicates, downgrade)`,
	usage: [
		'migrate --status [--json]              where it stands; exit 1 while not applied',
		'migrate --plan [--json]                the SQL an apply would run here (--json: the plan file format)',
		'migrate --apply [--yes] [--without-backup]   without --yes (any changing mode): only say what it would do',
		'migrate --resolve-duplicates [--yes]   archive the rows the unique constraints refuse',
		'migrate --undo-duplicates [--yes]      put the last archived duplicates back',
		'migrate --downgrade [--yes]            drop what the migration added, restore alembic_version',
	],
	flags: {
		status: {type: 'boolean', default: false},
		plan: {type: 'boolean', default: false},
		apply: {type: 'boolean', default: false},
		resolveDuplicates: {type: 'boolean', default: false},
		undoDuplicates: {type: 'boolean', default: false},
		downgrade: {type: 'boolean', default: false},
		yes: {type: 'boolean', default: false},
		json: {type: 'boolean', default: false},
		withoutBackup: {type: 'boolean', default: false},
	},
	readOnlyRefusal: flags => {
		const changing = modes.filter(m => flags[m] && m !== 'status' && m !== 'plan');
		return changing.length ? `migrate ${changing.map(flagName).join(' ')} changes the database, and --read-only was given` : undefined;
	},
	run,
};
