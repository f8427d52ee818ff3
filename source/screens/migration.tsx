import React, {useEffect, useMemo} from 'react';
import {useTicker} from '../hooks/use-ticker.js';
import {Box, Text} from 'ink';
import {readCatalog} from '../actions/backup/catalog.js';
import {auditContext} from '../audit.js';
import {targetKey} from '../state.js';
import {cancelBackend} from '../actions/backup/session.js';
import {countPendingDuplicates, inspectionShape} from '../actions/migration/duplicate-count.js';
import {latestArchive, resolveDuplicates, undoDuplicates, type ArchiveBatch} from '../actions/migration/duplicates.js';
import {
	backupCheck,
	evaluatePreflight,
	readFastChecks,
	readSlowChecks,
	type FastChecks,
	type PreflightReport,
	type SlowChecks,
} from '../actions/migration/preflight.js';
import {actionLabels, startApply, startDowngrade, stepsFor, type RunKind, type RunView} from '../actions/migration/run.js';
import {describeError, type ActionContext} from '../actions/migration/session.js';
import type {MigrationSettings} from '../actions/migration/settings.js';
import {inspectMigration, statusOf, type Inspection} from '../actions/migration/status.js';
import {MigrationDuplicates} from '../components/migration-duplicates.js';
import {MigrationObjects, objectRows} from '../components/migration-objects.js';
import {MigrationPreflight, preflightLines} from '../components/migration-preflight.js';
import {MigrationRunPanel, runPanelHeight} from '../components/migration-run.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {useAppState, useCommands, useServices, type Services} from '../context.js';
import {formatDuration, formatNumber} from '../format.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import type {Loader} from '../store/poller.js';
import {putSlot, setMessage, setUi} from '../store/store.js';
import type {JobProgress} from '../jobs/registry.js';
import type {MigrationPlan} from '../actions/migration/plan.js';

export type MigrationData = {
	inspection: Inspection;
	fast: FastChecks;
	/** duplicates, plan checks, size estimates: refreshed every minute, on r, and when an object changes state */
	slow?: SlowChecks;
	archive?: ArchiveBatch;
};

const slowEveryMs = 60_000;
let recheckRequested = false;

/** The next load redoes the slow checks (after archiving, a run, or r). */
function requestMigrationRecheck(): void {
	recheckRequested = true;
}

const shape = inspectionShape;

export const loadMigration: Loader<MigrationData> = async (ctx, previous) => {
	const {plan} = ctx.config.migration;
	const inspection = await inspectMigration(ctx.db, plan);
	const fast = await readFastChecks(ctx.db, plan);
	const due = recheckRequested || !previous?.slow || Date.now() - previous.slow.at > slowEveryMs || shape(previous.inspection) !== shape(inspection);
	if (!due) return {inspection, fast, slow: previous.slow, archive: previous.archive};
	recheckRequested = false;
	// Duplicates are counted by a job on a connection of its own (startDuplicateCount): full scans outlast the monitor's timeout.
	return {inspection, fast, slow: await readSlowChecks(ctx.db, plan, inspection, {duplicates: false}), archive: await latestArchive(ctx.db, plan)};
};

/**
 * Counts the duplicates as a job: an action with its own connection and
 * timeout, not part of the poll. The last count stays, with its age, until
 * the next one is in. One at a time; `restart` stops a running one first.
 */
function startDuplicateCount(services: Services, restart = false, announce = false): void {
	const {store, target, jobs, config} = services;
	const running = jobs.active('duplicate-count');
	if (running) {
		if (!restart) return;
		void jobs.cancel(running.id).then(() => startDuplicateCount(services, false, announce));
		return;
	}
	let pid: number | undefined;
	setUi(store, 'migration', {counting: 'connecting'});
	jobs.start({
		kind: 'duplicate-count',
		title: 'duplicate count',
		screen: 'migration',
		quiet: true,
		leaves: 'nothing: the count only reads; the last count stays',
		cancel: () => (pid === undefined ? undefined : cancelBackend(target, pid)),
		run: async job => {
			try {
				const result = await countPendingDuplicates(target, config.migration.plan, {
					signal: job.signal,
					pid: p => {
						pid = p;
						job.addPid(p);
					},
					progress: (o, index, total) => {
						const text = `${o.name} on ${o.table} (${index + 1}/${total})`;
						setUi(store, 'migration', {counting: text});
						job.progress({text: `counting ${text}`, fraction: total ? index / total : undefined});
					},
				});
				setUi(store, 'migration', {count: result, countError: undefined});
				const extra = result.counts.reduce((n, d) => n + d.extraRows, 0);
				const text = extra ? `${formatNumber(extra)} duplicate rows` : 'no duplicates';
				// r's answer is the count's end, not its start: said once it is in (the strip shows it running)
				if (announce) setMessage(store, `re-check: duplicates counted again: ${text}`, 'ok', 'migration');
				return {ok: true, text};
			} catch (error) {
				const text = describeError(error);
				const inspection = store.getState().data.migration?.value?.inspection;
				if (!job.signal.aborted) setUi(store, 'migration', {countError: {text, shape: inspection ? shape(inspection) : ''}});
				if (announce && !job.signal.aborted) setMessage(store, `re-check: the duplicate count failed: ${text}`, 'error', 'migration');
				return {ok: false, text};
			} finally {
				setUi(store, 'migration', {counting: undefined});
			}
		},
	});
}

/** What the strip says of a run: the step now running, how far, whom it waits for. */
function runProgress(view: RunView): JobProgress | undefined {
	const current = view.steps.find(x => x.status === 'running');
	const todo = view.steps.filter(x => x.status !== 'skipped').length;
	const done = view.steps.filter(x => x.status === 'done').length;
	if (!current) return todo ? {text: `${done}/${todo} done`} : undefined;
	const p = current.progress;
	return {
		text: `${actionLabels[current.action]} ${current.name}${p ? ` (${p.phase})` : ''} · ${done}/${todo} done`,
		fraction: p?.fraction,
		waitsFor: p?.waitingFor.map(w => w.pid),
	};
}

/** Quitting may leave a plain index build to finish on the server: it ends VALID whether or not anyone watches. */
function detachable(view: RunView, plan: MigrationPlan, demo: boolean): string | undefined {
	const current = view.steps.find(x => x.status === 'running');
	const object = current && plan.objects.find(o => o.name === current.name);
	if (demo || view.via !== 'plan' || current?.action !== 'build' || !object || object.unique) return undefined;
	const rest = view.steps.filter(x => x.status === 'pending').length;
	return `${current.name} finishes building on the server and ends VALID; ${rest ? `the ${rest} objects after it and alembic_version wait` : 'alembic_version waits'} for the next apply (m)`;
}

/** Re-reads the migration's state at once, whichever screen is visible: a run's end changes what every line says. */
function rereadMigration(services: Services): void {
	const {store, db, refreshNow, config} = services;
	requestMigrationRecheck();
	// the visible screen's poll too, with privileges and alembic_version read again (Overview's migration line)
	refreshNow();
	const st = store.getState();
	if (!st.caps) return;
	const previous = st.data.migration?.value;
	const started = Date.now();
	void loadMigration({db, caps: st.caps, thresholds: st.thresholds, config, ownPid: st.connection.backendPid}, previous)
		.then(value => putSlot(store, 'migration', value, started))
		.catch(() => refreshNow());
}

function startRun(services: Services, kind: RunKind, settings: MigrationSettings, role: string, allowNoBackup: boolean) {
	const {store, target, jobs} = services;
	const options = {target, audit: auditContext(target, role), plan: settings.plan, planSource: settings.planSource, alembicDir: settings.alembicDir, allowNoBackup};
	const run = kind === 'apply' ? startApply(options) : startDowngrade(options);
	const demo = store.getState().demoDsn !== undefined;
	const revision = kind === 'apply' ? settings.plan.revision : settings.plan.previousRevision;
	setUi(store, 'migration', {run: run.view()});
	jobs.start({
		kind: 'migration',
		title: `migration ${kind} ${revision}`,
		screen: 'migration',
		leaves:
			run.view().via === 'alembic'
				? 'alembic gets SIGINT; an INVALID index it leaves is dropped; finished objects stay'
				: 'pg_cancel_backend stops the running statement; the INVALID index it leaves is dropped; finished objects stay, the next run resumes',
		cancel: () => run.cancel(),
		run: async job => {
			run.on('change', view => {
				setUi(store, 'migration', {run: view});
				for (const pid of [view.buildPid, view.controlPid]) job.addPid(pid);
				const progress = runProgress(view);
				if (progress) job.progress(progress);
				job.describe({detachable: detachable(view, settings.plan, demo)});
			});
			const view = await run.done;
			setMessage(store, view.message ?? view.outcome, view.outcome === 'ok' ? 'ok' : 'error');
			rereadMigration(services);
			return {ok: view.outcome === 'ok', cancelled: view.outcome === 'cancelled', text: view.message ?? view.outcome};
		},
	});
}

function applyLines(settings: MigrationSettings, inspection: Inspection, report: PreflightReport): string[] {
	const plan = settings.plan;
	const steps = stepsFor('apply', inspection);
	const count = (a: string) => steps.filter(s => s.action === a).length;
	const what = settings.alembicDir
		? `Runs alembic upgrade ${plan.revision} in ${settings.alembicDir}, streaming its output, then verifies every object.`
		: `${count('build')} to build, ${count('rebuild')} INVALID to drop and rebuild, ${count('attach')} constraints to attach; ${count('skip')} already valid.`;
	return [
		what,
		'Indexes: CREATE INDEX CONCURRENTLY, one at a time: the app keeps reading and writing.',
		'Unique: index built concurrently, then ADD CONSTRAINT USING INDEX (lock_timeout 500 ms, retried).',
		`alembic_version becomes ${plan.revision} only once every object is verified valid.`,
		'c cancels the running build and drops the INVALID index it leaves.',
		...report.items.filter(i => i.level === 'warn').map(i => `! ${i.title}: ${i.summary}`),
	];
}

function MigrationView({data}: {data: MigrationData}) {
	const services = useServices();
	const {store, target, refreshNow, jobs} = services;
	const s = useAppState(st => ({
		width: st.size.columns,
		readOnly: st.readOnly,
		role: st.caps?.role ?? 'unknown',
		run: st.ui.migration?.run,
		drill: st.ui.migration?.drill,
		count: st.ui.migration?.count,
		countError: st.ui.migration?.countError,
		counting: st.ui.migration?.counting,
	}));
	const height = useFrameRows('migration');
	const settings = services.config.migration;
	const plan = settings.plan;
	const running = s.run?.outcome === 'running';
	const now = useTicker(running);
	// eslint-disable-next-line react-hooks/exhaustive-deps -- data: the catalog file is read again with each poll, not each render
	const backup = useMemo(() => backupCheck(readCatalog(targetKey(target))), [data, target]);
	const currentShape = shape(data.inspection);
	// The count first needed, and again when an object changed state; a failed one waits for r rather than retrying with every poll.
	useEffect(() => {
		// not while a run builds: it counts for itself first, and its end counts again (rereadMigration)
		if (running || s.counting || (s.count && s.count.shape === currentShape) || s.countError?.shape === currentShape) return;
		startDuplicateCount(services);
	}, [services, running, currentShape, s.count, s.countError, s.counting]);
	const slow: SlowChecks | undefined = data.slow && {
		...data.slow,
		duplicates: s.count?.counts,
		countedAt: s.count?.at,
		duplicatesError: s.countError?.text,
		counting: s.counting,
	};
	const report = evaluatePreflight('apply', plan, data.inspection, data.fast, slow, backup, running ? s.run?.buildPid : undefined);
	const status = statusOf(plan, data.inspection);
	const rows = objectRows(data.inspection.objects, s.run);
	const runHeight = runPanelHeight(s.run);
	const available = height - 1 - (s.readOnly ? 1 : 0);
	// The pre-flight gets what it needs as long as a few objects stay visible, and every verdict even if only
	// two objects do (80x24 with the alert strip); the objects get the rest and scroll.
	const room = available - runHeight;
	const verdicts = report.items.length + 1;
	const preflightHeight = Math.max(2, Math.min(preflightLines(report).length + 1, room - 3, Math.max(verdicts, room - Math.min(rows.length + 1, 7))));
	const tableHeight = Math.max(2, Math.min(rows.length, available - runHeight - preflightHeight - 1));
	const sel = useSelection('migration', rows.map(r => r.inspection.object.name), tableHeight, {active: !s.drill});
	const selected = data.inspection.objects.find(i => i.object.name === sel.selectedKey);
	const duplicates = s.count?.counts ?? [];
	const toArchive = duplicates.reduce((n, d) => n + d.extraRows, 0);
	const busy = () => {
		const job = jobs.active(['migration', 'duplicates']);
		if (job) setMessage(store, `the ${job.title} is running: wait for it, or c to cancel it`, 'error');
		return job !== undefined;
	};
	const ctx = {target, audit: auditContext(target, s.role)};
	// Archive and undo are jobs: the strip shows them from every screen, quit and SIGHUP cancel them, the kill path knows their session.
	const act = (title: string, work: (ctx: ActionContext) => Promise<string>) => {
		let pid: number | undefined;
		jobs.start({
			kind: 'duplicates',
			title,
			screen: 'migration',
			leaves: 'its one transaction rolls back: no row is moved',
			cancel: () => (pid === undefined ? undefined : cancelBackend(target, pid)),
			run: async job => {
				job.progress('one transaction for all tables');
				try {
					const text = await work({
						...ctx,
						signal: job.signal,
						onPid: p => {
							pid = p;
							job.addPid(p);
						},
					});
					setMessage(store, text, 'ok');
					return {ok: true, text};
				} catch (error) {
					if (job.signal.aborted) return {cancelled: true, text: 'rolled back, no row was moved'};
					const text = describeError(error);
					setMessage(store, `${title} failed: ${text}`, 'error');
					return {ok: false, text};
				} finally {
					requestMigrationRecheck();
					startDuplicateCount(services, true);
					refreshNow();
				}
			},
		});
	};
	const notCounted = () => {
		startDuplicateCount(services);
		setMessage(store, `duplicates are not counted yet: counting${s.counting ? ` ${s.counting}` : ''} (job strip); press d again once the count is in`, 'error');
	};

	useCommands({
		'migration.apply': () => {
			if (busy()) return;
			if (!data.slow) return setMessage(store, 'the pre-flight is still checking the plan; try again in a moment', 'error');
			if (report.blocked) {
				const first = report.items.find(i => i.level === 'block' && !i.overridable)!;
				return setMessage(store, `the pre-flight blocks the apply: ${first.title}: ${first.summary}`, 'error');
			}
			// The run counts them again on its own connection before it builds, and stops if there are any.
			const lines = [...applyLines(settings, data.inspection, report), ...(s.count ? [] : ['! Duplicates: not counted yet here; the run counts them first and stops if there are any.'])];
			store.setState({
				dialog: report.needsOverride
					? {
							title: `Apply ${plan.revision} WITHOUT a recent backup?`,
							lines: [`✗ ${report.items.find(i => i.overridable)!.summary}`, ...lines],
							confirmLabel: 'apply without a backup',
							typed: 'no backup',
							onConfirm: () => startRun(services, 'apply', settings, s.role, true),
						}
					: {title: `Apply migration ${plan.revision}?`, lines, confirmLabel: 'apply', onConfirm: () => startRun(services, 'apply', settings, s.role, false)},
			});
		},
		'migration.cancel': () => {
			const archiving = jobs.active('duplicates');
			if (archiving) return void jobs.cancel(archiving.id);
			const job = jobs.active('migration');
			const run = s.run;
			if (!job || !run) return setMessage(store, 'nothing is running', 'error');
			const current = run.steps.find(x => x.status === 'running');
			store.setState({
				dialog: {
					title: `Cancel the ${run.kind}?`,
					lines: [
						run.via === 'alembic'
							? 'alembic gets SIGINT, and its statement pg_cancel_backend.'
							: `pg_cancel_backend(${run.buildPid}) stops ${current ? current.name : 'the current statement'}.`,
						'The INVALID index it leaves is dropped. Finished objects stay; m resumes from there.',
					],
					confirmLabel: 'cancel it',
					onConfirm: () => void jobs.cancel(job.id),
				},
			});
		},
		'migration.resolve': () => {
			if (busy()) return;
			if (!s.count) return notCounted();
			if (toArchive === 0) return setMessage(store, 'no duplicates to archive', 'info');
			store.setState({
				dialog: {
					title: `Archive ${formatNumber(toArchive)} duplicate rows?`,
					lines: [
						`Counted ${formatDuration(Date.now() - s.count.at)} ago${s.counting ? ' (counting again now)' : ''}; archiving moves the duplicates there are when it runs.`,
						...duplicates.filter(d => d.groups > 0).map(d => `${d.table} (${d.columns.join(', ')}): ${formatNumber(d.extraRows)} rows in ${formatNumber(d.groups)} groups`),
						`Moved with every column to ${plan.archiveSchema}.<table>_duplicates; the oldest of each group stays.`,
						'One transaction for all tables; u puts them back.',
					],
					confirmLabel: 'archive',
					onConfirm: () =>
						act('archiving duplicates', async job => {
							const r = await resolveDuplicates(job, plan);
							return `archived ${r.tables.map(t => `${t.rows} ${t.table}`).join(', ')} into ${plan.archiveSchema} (u restores them)`;
						}),
				},
			});
		},
		'migration.undo': () => {
			if (busy()) return;
			const archive = data.archive;
			if (!archive) return setMessage(store, 'the archive holds no duplicates to restore', 'error');
			store.setState({
				dialog: {
					title: `Restore the duplicates archived at ${archive.archivedAt}?`,
					lines: [
						...archive.tables.map(t => `${t.archive}: ${formatNumber(t.rows)} rows back into ${t.table}`),
						'One transaction; refused while a unique constraint they break is in place (downgrade first).',
					],
					confirmLabel: 'restore',
					onConfirm: () =>
						act('restoring duplicates', async job => {
							const r = await undoDuplicates(job, plan, archive.batch);
							return `restored ${r.tables.map(t => `${t.rows} ${t.table}`).join(', ')}`;
						}),
				},
			});
		},
		'migration.downgrade': () => {
			if (busy()) return;
			const present = data.inspection.objects.filter(i => i.present && !i.mismatch).length;
			store.setState({
				dialog: {
					title: `Downgrade ${plan.revision} to ${plan.previousRevision}?`,
					lines: [
						`Drops the ${present} objects the migration added: indexes with DROP INDEX CONCURRENTLY,`,
						'constraints with ALTER TABLE ... DROP CONSTRAINT (lock_timeout 500 ms, retried).',
						`Then alembic_version goes back to ${plan.previousRevision}. Archived duplicates stay (u restores them).`,
						'The app keeps working, but its queries lose these indexes.',
					],
					confirmLabel: 'downgrade',
					typed: 'downgrade',
					onConfirm: () => startRun(services, 'downgrade', settings, s.role, false),
				},
			});
		},
		'migration.recheck': () => {
			requestMigrationRecheck();
			startDuplicateCount(services, true, true);
			refreshNow();
		},
		details: () => {
			if (!selected?.object.unique) return setMessage(store, 'Enter shows the duplicate rows of a unique constraint: select one of those', 'info');
			setUi(store, 'migration', {drill: selected.object.name});
		},
		back: s.drill ? () => setUi(store, 'migration', {drill: undefined}) : undefined,
	});

	const drilled = s.drill ? plan.objects.find(o => o.name === s.drill) : undefined;
	const v = data.inspection.alembicVersion;
	return (
		<Box flexDirection="column" width={s.width}>
			<Text wrap="truncate-end">
				<Text bold>{plan.revision}</Text>
				{` (${settings.planSource} plan, ${plan.objects.length} objects) · ${status.objects.filter(o => o.state === 'valid').length}/${status.objects.length} valid · `}
				{/* the verdict before the details, so that 80 columns still show it */}
				<Text color={status.applied ? 'green' : 'red'}>{status.applied ? 'APPLIED' : 'NOT APPLIED'}</Text>
				{' · alembic_version '}
				<Text color={v === plan.revision ? 'green' : 'yellow'}>{v === undefined ? '(no table)' : (v ?? '(empty)')}</Text>
				{v === plan.revision ? '' : ` → ${plan.revision}`}
				{settings.alembicDir ? ` · via alembic in ${settings.alembicDir}` : ''}
				{data.archive ? ` · archived duplicates: ${data.archive.tables.reduce((n, t) => n + t.rows, 0)} rows` : ''}
			</Text>
			{s.readOnly ? <Text color="yellow">read-only: apply, archive and downgrade are not available in this session</Text> : null}
			{drilled ? (
				<MigrationDuplicates plan={plan} object={drilled} count={duplicates.find(d => d.object === drilled.name)} width={s.width} height={height - 1} />
			) : (
				<>
					<MigrationObjects rows={rows} width={s.width} height={tableHeight} selection={sel} hasRun={s.run !== undefined} now={now} />
					{s.run ? <MigrationRunPanel run={s.run} now={now} width={s.width} /> : null}
					<MigrationPreflight report={report} height={preflightHeight} width={s.width} />
				</>
			)}
		</Box>
	);
}

/** Migration h8c2d6e5f4g3: every object's state, the pre-flight, and the apply with its progress. */
export function MigrationScreen() {
	return <ScreenFrame screen="migration">{data => <MigrationView data={data} />}</ScreenFrame>;
}
