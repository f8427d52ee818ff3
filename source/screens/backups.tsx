import path from 'node:path';
import React, {useEffect, useMemo, useState} from 'react';
import {Box, Text} from 'ink';
import {runBackup, type BackupProgress} from '../actions/backup/backup.js';
import type {BackupRecord} from '../actions/backup/catalog.js';
import {describeBackup, describeBackupProgress, describeLeftOut, describeRestoreProgress, describeRestoreTest} from '../actions/backup/describe.js';
import {defaultBackupDir, extensions, type BackupFormat} from '../actions/backup/files.js';
import {findPgTools, type PgTools} from '../actions/backup/pg-tools.js';
import {runRestoreTest} from '../actions/backup/restore-test.js';
import {runRestore, type RestoreProgress} from '../actions/backup/restore.js';
import {cronLine, currentProgram} from '../actions/backup/schedule.js';
import {targetKey} from '../state.js';
import {readLocalStatus, type ChecksumState, type LocalStatus} from '../actions/backup/status.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {TextField} from '../components/text-field.js';
import {Table, type Column} from '../components/table.js';
import {useAppState, useCommands, useServices, type Services} from '../context.js';
import type {JobRegistry} from '../jobs/registry.js';
import {watchOwnSessions} from '../jobs/own-sessions.js';
import {jobApplicationName} from '../db/own-sessions.js';
import type {Target} from '../db/dsn.js';
import {dateTime, fitIdent, formatBytes, formatDuration, formatNumber, pad2} from '../format.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize} from '../sanitize.js';
import {setMessage, setUi, type AppStore} from '../store/store.js';
import {errorText} from '../errors.js';

type Job = {kind: 'backup'; progress: BackupProgress} | {kind: 'restore-test' | 'restore'; file: string; progress: RestoreProgress};

export type BackupsUi = {
	format?: BackupFormat;
	job?: Job;
	details?: boolean;
	/** bumped when a job ends, so the catalog is read again at once */
	version?: number;
	/** --pg-bin, when the console was started with it */
	pgBin?: string;
	/** the name of the new database a restore goes into, being typed */
	naming?: {backup: string; initial: string};
};

const progressRenderMs = 100;

function ui(store: AppStore): BackupsUi {
	return store.getState().ui.backups ?? {};
}

const running = (jobs: JobRegistry) => jobs.active(['backup', 'restore-test', 'restore']);

/** What the strip says of a backup or restore test in progress. */
function jobProgress(job: Job): string {
	const text = job.kind === 'backup' ? describeBackupProgress(job.progress, Date.now()) : describeRestoreProgress(job.progress, Date.now());
	// the strip adds the elapsed time itself
	return text.replace(/ · [^·]*$/, '');
}

// The job is the registry's (quit and SIGHUP cancel it and wait for its clean-up); this screen starts and shows it.
function startJob(
	services: Services,
	job: Job,
	title: string,
	leaves: string,
	work: (signal: AbortSignal, update: (job: Job) => void, applicationName: string) => Promise<{text: string; ok: boolean}>,
): void {
	const {store, jobs, db} = services;
	setUi(store, 'backups', {job});
	// pg_dump reports every table; thousands of tables must not mean thousands of renders
	let latest = job;
	let flush: NodeJS.Timeout | undefined;
	let live = true;
	jobs.start({
		kind: job.kind,
		title,
		leaves,
		screen: 'backups',
		run: async handle => {
			const update = (next: Job) => {
				latest = next;
				flush ??= setTimeout(() => {
					flush = undefined;
					if (!live) return;
					setUi(store, 'backups', {job: latest});
					handle.progress(jobProgress(latest));
				}, progressRenderMs);
			};
			// pg_dump and pg_restore cannot say their backend pid: their sessions are found by a name of this job's own
			const applicationName = jobApplicationName(job.kind, handle.id);
			const unwatch = watchOwnSessions(db, applicationName, handle);
			try {
				const result = await work(handle.signal, update, applicationName);
				setMessage(store, sanitize(result.text, 400), result.ok ? 'ok' : 'error');
				return result;
			} catch (error) {
				setMessage(store, sanitize(errorText(error), 400), 'error');
				throw error;
			} finally {
				unwatch();
				live = false;
				clearTimeout(flush);
				setUi(store, 'backups', {job: undefined, version: (ui(store).version ?? 0) + 1});
			}
		},
	});
}

function backUp(services: Services, format: BackupFormat, dir: string): void {
	const {store, target} = services;
	const job: Job = {kind: 'backup', progress: {phase: 'preparing', tablesDone: 0, tablesTotal: 0, countedDone: 0, bytes: 0, startedAt: Date.now()}};
	startJob(services, job, `backup of ${sanitize(target.database, 60)}`, 'pg_dump stops and its partial file is removed; no backup is recorded', async (signal, update, applicationName) => {
		const record = await runBackup({target, format, dir, pgBin: ui(store).pgBin, signal, applicationName, onProgress: progress => update({kind: 'backup', progress})});
		return {ok: true, text: `backup ok: ${path.basename(record.file)} · ${describeBackup(record)} · r to restore-test it`};
	});
}

function restoreTest(services: Services, record: BackupRecord): void {
	const {store, target} = services;
	const progress: RestoreProgress = {phase: 'checksum', bytes: 0, sizeBytes: record.sizeBytes, tablesDone: 0, tablesTotal: 0, startedAt: Date.now()};
	startJob(
		services,
		{kind: 'restore-test', file: record.file, progress},
		`restore test of ${path.basename(record.file)}`,
		'the restore stops and its scratch database is dropped; the backup stays untested',
		async (signal, update, applicationName) => {
			const result = await runRestoreTest({target, record, pgBin: ui(store).pgBin, signal, applicationName, onProgress: p => update({kind: 'restore-test', file: record.file, progress: p})});
			const first = result.differences[0];
			return {ok: result.passed, text: `${describeRestoreTest(result, record, path.basename(record.file))}${first ? `: ${first}` : ''}`};
		},
	);
}

/** What the console restores into: always a new database, never the source (the action checks the file's own header and server too). */
function restoreInto(services: Services, record: BackupRecord, into: string): void {
	const {store, target} = services;
	const progress: RestoreProgress = {phase: 'checksum', bytes: 0, sizeBytes: record.sizeBytes, tablesDone: 0, tablesTotal: 0, startedAt: Date.now()};
	const name = path.basename(record.file);
	startJob(
		services,
		{kind: 'restore', file: record.file, progress},
		`restore of ${name} into ${sanitize(into, 63)}`,
		`pg_restore stops and the partially restored database is dropped; ${sanitize(into, 63)} is not created; ${sanitize(record.database, 63)} is not touched`,
		async (signal, update, applicationName) => {
			const outcome = await runRestore({target, file: record.file, into, newOnly: true, pgBin: ui(store).pgBin, signal, applicationName, onProgress: p => update({kind: 'restore', file: record.file, progress: p})});
			const checked = outcome.compared ? ", matching the backup's snapshot" : '';
			return {ok: !outcome.unverified, text: `restored: ${outcome.into} holds ${outcome.tables} tables and ${formatNumber(outcome.rows)} rows${checked}${outcome.unverified ? `; ${outcome.unverified}` : ''}`};
		},
	);
}

/** <source>_restored_<yyyymmdd_hhmm> in local time, within PostgreSQL's 63 bytes. */
export function suggestedRestoreName(source: string, at = new Date()): string {
	const suffix = `_restored_${at.getFullYear()}${pad2(at.getMonth() + 1)}${pad2(at.getDate())}_${pad2(at.getHours())}${pad2(at.getMinutes())}`;
	let base = source;
	while (Buffer.byteLength(base + suffix) > 63) base = [...base].slice(0, -1).join('');
	return base + suffix;
}

/** Why the console will not restore into `into`, or undefined: checked before the confirmation, and again by the action. */
async function restoreNameRefusal(services: Services, record: BackupRecord, into: string): Promise<string | undefined> {
	if (into === '') return 'name the new database to restore into';
	if (Buffer.byteLength(into) > 63) return `${into} is longer than PostgreSQL's 63 bytes for a name`;
	if (into === record.database || into === services.target.database) return `refusing to restore into ${into}: it is the source database of this backup; restore into a new database and switch over`;
	const r = await services.db.query('SELECT 1 FROM pg_database WHERE datname = $1', [into]);
	if (r.rows.length) return `refusing to restore into ${into}: a database of that name exists; the console restores only into a new database`;
	return undefined;
}

function confirmRestore(services: Services, record: BackupRecord, into: string): void {
	const {store} = services;
	const tables = Object.keys(record.rowCounts).length;
	const rows = Object.values(record.rowCounts).reduce((a, b) => a + b, 0);
	store.setState({
		dialog: {
			title: `Restore ${path.basename(record.file)} into the new database ${into}?`,
			lines: [
				`Checks the file's sha256 and header, creates a new database on this server and restores the backup into it in one transaction (pg_restore or psql),`,
				`counts its ${tables} tables against the backup's snapshot (${formatNumber(rows)} rows), and only then names it ${into}.`,
				`${record.database} (the source) is not touched and nothing is replaced. It needs CREATEDB, and writes the whole database (and its WAL, which replicas receive).`,
				'Cancelling (x, or quitting) drops the partially restored database.',
			],
			confirmLabel: 'restore',
			typed: into,
			onConfirm: () => restoreInto(services, record, into),
		},
	});
}

const localTime = (iso: string) => dateTime(Date.parse(iso));

type Row = LocalStatus['records'][number];

const checksumColor: Record<ChecksumState, string | undefined> = {
	verified: 'green',
	recorded: undefined,
	mismatch: 'red',
	missing: 'red',
	'size changed': 'red',
	'no sidecar': 'yellow',
	removed: undefined,
};

function restoreTestText(r: Row, now: number): string {
	if (!r.restoreTest) return 'never';
	return `${r.restoreTest.passed ? 'passed' : 'FAILED'} ${formatDuration(now - Date.parse(r.restoreTest.at))} ago`;
}

function columns(now: number): Column<Row>[] {
	return [
		// The name's time is Started's too (the sort column, kept whole): at 80 columns the name gives up its middle, not Checksum its verdict.
		{key: 'file', title: 'File', width: 20, grow: 1, ident: true, value: r => path.basename(r.file)},
		{key: 'size', title: 'Size', width: 9, align: 'right', value: r => formatBytes(r.sizeBytes)},
		{key: 'started', title: 'Started', width: 16, priority: 2, value: r => localTime(r.startedAt)},
		{key: 'took', title: 'Took', width: 7, align: 'right', priority: 3, value: r => formatDuration(r.durationMs)},
		{key: 'server', title: 'Server', width: 7, priority: 1, value: r => r.serverVersion.split(' ')[0]!},
		{key: 'checksum', title: 'Checksum', width: 12, value: r => r.checksumState},
		{key: 'test', title: 'Restore test', width: 17, value: r => (r.removedAt ? `removed ${formatDuration(now - Date.parse(r.removedAt))} ago` : restoreTestText(r, now))},
	];
}

function rowStyle(r: Row) {
	if (r.removedAt) return {dim: true};
	if (r.restoreTest && !r.restoreTest.passed) return {color: 'red'};
	return checksumColor[r.checksumState] === 'red' ? {color: 'red'} : undefined;
}

/** Re-reads the catalog and the disk on the refresh interval, and at once when a job ends. */
function useLocalStatus(target: Target, dir: string, intervalMs: number, version: number, paused: boolean): LocalStatus | undefined {
	const [status, setStatus] = useState<LocalStatus>();
	useEffect(() => {
		const read = () => setStatus(readLocalStatus(targetKey(target), dir));
		read();
		if (paused) return;
		const timer = setInterval(read, intervalMs);
		return () => clearInterval(timer);
	}, [target, dir, intervalMs, version, paused]);
	return status;
}

// Looking for pg_dump runs each candidate's --version: once per session, not on every visit to the
// screen. A failed search is not kept, so installing the tools and coming back to the screen is enough.
const toolSearches = new Map<string, Promise<PgTools>>();

function usePgTools(major: number | undefined, pgBin: string | undefined): {tools?: PgTools; error?: string} {
	const [found, setFound] = useState<{tools?: PgTools; error?: string}>({});
	useEffect(() => {
		if (major === undefined) return;
		const key = `${major}:${pgBin ?? ''}`;
		if (!toolSearches.has(key)) {
			const search = findPgTools(major, {pgBin});
			search.catch(() => toolSearches.delete(key));
			toolSearches.set(key, search);
		}
		let live = true;
		toolSearches.get(key)!.then(
			tools => live && setFound({tools}),
			(error: unknown) => live && setFound({error: errorText(error)}),
		);
		return () => {
			live = false;
		};
	}, [major, pgBin]);
	return found;
}

function useTicking(active: boolean): number {
	const [now, setNow] = useState(Date.now());
	useEffect(() => {
		const timer = setInterval(() => setNow(Date.now()), active ? 500 : 30_000);
		return () => clearInterval(timer);
	}, [active]);
	return now;
}

/** Lines the detail view uses besides the row counts. */
const detailLines = 10;

function Details({record, height, now}: {record: Row; height: number; now: number}) {
	const counts = Object.entries(record.rowCounts);
	const test = record.restoreTest;
	const differences = test?.differences.slice(0, Math.max(1, Math.floor((height - detailLines) / 2))) ?? [];
	const countLines = Math.max(0, height - detailLines - differences.length);
	const shownCounts = counts.length > countLines ? counts.slice(0, Math.max(0, countLines - 1)) : counts;
	return (
		<Box flexDirection="column">
			<Text bold wrap="truncate-end">
				{sanitize(record.file, 300)}
			</Text>
			<Text wrap="truncate-end">
				{record.format === 'custom' ? 'custom archive (pg_restore)' : 'plain SQL, gzipped (gunzip -c | psql)'} · {describeBackup(record)}
			</Text>
			<Text wrap="truncate-end">sha256 {record.sha256}</Text>
			<Text wrap="truncate-end">
				checksum {record.checksumState} · started {localTime(record.startedAt)}, finished {localTime(record.finishedAt)}
				{record.removedAt ? ` · removed by retention ${localTime(record.removedAt)}` : ''}
			</Text>
			<Text wrap="truncate-end">
				{record.objects ? `${record.objects.tables.length} tables, ${record.objects.indexes.length} indexes, ${record.objects.constraints.length} constraints recorded for the restore test` : 'no object list recorded'}
			</Text>
			{describeLeftOut(record) ? (
				<Text color="yellow" wrap="truncate-end">
					{sanitize(describeLeftOut(record)!, 300)}
				</Text>
			) : null}
			{test ? (
				<Text color={test.passed ? 'green' : 'red'} wrap="truncate-end">
					Restore test {test.passed ? 'passed' : 'FAILED'} {formatDuration(now - Date.parse(test.at))} ago ({localTime(test.at)}) in {formatDuration(test.durationMs)}
					{test.scratchDatabase ? `, scratch database ${test.scratchDatabase} dropped` : ''}
				</Text>
			) : (
				<Text color="yellow">Never restore-tested: r proves it restores.</Text>
			)}
			{differences.map((d, i) => (
				<Text key={i} color="red" wrap="truncate-end">
					{'  '}
					{sanitize(d, 300)}
				</Text>
			))}
			{test && test.differences.length > differences.length ? <Text color="red">  … and {test.differences.length - differences.length} more (see the audit log)</Text> : null}
			<Text dimColor>Rows counted in the backup's snapshot:</Text>
			{shownCounts.map(([table, n]) => (
				<Text key={table} wrap="truncate-end">
					{'  '}
					{String(n).padStart(12)} {sanitize(table, 120)}
				</Text>
			))}
			{shownCounts.length < counts.length ? <Text dimColor>  … and {counts.length - shownCounts.length} more tables</Text> : null}
			<Text dimColor>Esc back to the list</Text>
		</Box>
	);
}

function JobLine({job, now}: {job: Job; now: number}) {
	const what = job.kind === 'backup' ? 'Backing up' : `${job.kind === 'restore' ? 'Restore' : 'Restore test'} of ${path.basename(job.file)}`;
	const text = `${what}: ${job.kind === 'backup' ? describeBackupProgress(job.progress, now) : describeRestoreProgress(job.progress, now)}`;
	return (
		<Text color="yellow" wrap="truncate-end">
			{text} · x cancel
		</Text>
	);
}

/** The catalog of backups with their proof: checksum and restore test, plus where they go and how they are scheduled. */
export function BackupsScreen() {
	const services = useServices();
	const {store, target, jobs} = services;
	const s = useAppState(st => ({
		width: st.size.columns,
		intervalMs: st.intervalMs,
		paused: st.paused,
		major: st.caps?.major,
		ui: st.ui.backups,
	}));
	const view = s.ui ?? {};
	const format = view.format ?? 'custom';
	// creates the state directory: once, not on every render
	const dir = useMemo(() => defaultBackupDir(targetKey(target)), [target]);
	const local = useLocalStatus(target, dir, s.intervalMs, view.version ?? 0, s.paused);
	const pg = usePgTools(s.major, view.pgBin);
	const now = useTicking(view.job !== undefined);
	const records = local?.records ?? [];
	const rows = useFrameRows('backups');
	const termColumns = useAppState(st => st.size.columns);
	const cron = cronLine({target, program: currentProgram(), format, pgBin: view.pgBin, keep: 7, stateDir: process.env.INTOWORK_DB_STATE});
	const toolsLine = pg.error ? sanitize(pg.error, 400) : `pg_dump ${pg.tools ? `${pg.tools.version} in ${pg.tools.dir}` : '…'}`;
	// dir, disk, the label over the cron line, the job line, the table's header
	const fixedLines = 5 + wrappedLines(toolsLine, s.width) + wrappedLines(cron, s.width);
	const listHeight = Math.max(1, rows - fixedLines);
	const sel = useSelection('backups', records.map(r => r.id), listHeight, {active: !view.details});
	const selected = records.find(r => r.id === sel.selectedKey);
	const busy = () => {
		if (!running(jobs)) return false;
		setMessage(store, 'a backup or restore is already running; x cancels it', 'error');
		return true;
	};

	useCommands({
		'backups.format': () => setUi(store, 'backups', {format: format === 'custom' ? 'plain' : 'custom'}),
		'backups.cancel': () => {
			const job = running(jobs);
			if (!job) return setMessage(store, 'nothing is running');
			void jobs.cancel(job.id);
			setMessage(store, 'cancelling…');
		},
		'backups.backup': () => {
			if (busy()) return;
			if (pg.error) return setMessage(store, sanitize(pg.error, 400), 'error');
			const last = records.find(r => !r.removedAt && r.format === format);
			store.setState({
				dialog: {
					title: `Back up ${target.database} now?`,
					lines: [
						`pg_dump ${pg.tools?.version ?? '?'} in an exported snapshot, every table's rows counted in the same snapshot`,
						`format: ${format === 'custom' ? 'custom archive' : 'plain SQL, gzipped'} (${extensions[format]}) into ${dir}`,
						`disk: ${local?.space ? `${formatBytes(local.space.free)} free` : 'unknown'}${last ? ` · last ${format} backup ${formatBytes(last.sizeBytes)} in ${formatDuration(last.durationMs)}` : ''}`,
						'It reads every table on the server while it runs; x cancels and removes the partial file.',
					],
					confirmLabel: 'back up',
					onConfirm: () => backUp(services, format, dir),
				},
			});
		},
		'backups.restoreTest': () => {
			if (busy()) return;
			if (!selected || selected.removedAt) return setMessage(store, 'select a backup that is still on disk', 'error');
			store.setState({
				dialog: {
					title: `Restore-test ${path.basename(selected.file)}?`,
					lines: [
						'Checks the sha256, restores into a new scratch database intowork_restore_test_… on this server,',
						`compares ${Object.keys(selected.rowCounts).length} tables' exact row counts and the tables, indexes and constraints, then drops it.`,
						"It needs CREATEDB, and writes the whole database (and its WAL, which replicas receive) while it runs.",
					],
					confirmLabel: 'run the restore test',
					onConfirm: () => restoreTest(services, selected),
				},
			});
		},
		'backups.restore': () => {
			if (busy()) return;
			if (!selected || selected.removedAt) return setMessage(store, 'select a backup that is still on disk', 'error');
			setUi(store, 'backups', {naming: {backup: selected.id, initial: suggestedRestoreName(selected.database)}});
		},
		details: () => selected && setUi(store, 'backups', {details: true}),
		back: () => setUi(store, 'backups', {details: false}),
	});

	return (
		<ScreenFrame screen="backups">
			{info =>
				view.details && selected ? (
					<Box flexDirection="column">
						{view.job ? <JobLine job={view.job} now={now} /> : null}
						<Details record={selected} height={rows - (view.job ? 1 : 0)} now={now} />
					</Box>
				) : (
					<Box flexDirection="column">
						<Text wrap="truncate-end">
							<Text dimColor>Backups in </Text>
							{/* shortened in the middle: the end names the directory */}
							{fitIdent(dir, Math.max(8, termColumns - 'Backups in '.length)).trimEnd()}
						</Text>
						<Text wrap="truncate-end">
							<Text dimColor>Disk </Text>
							{local?.space ? `${formatBytes(local.space.free)} free of ${formatBytes(local.space.total)}` : (local?.spaceError ?? '…')}
							<Text dimColor> · database </Text>
							{formatBytes(info.databaseSize)}
							<Text dimColor> · format </Text>
							{format === 'custom' ? 'custom' : 'plain .sql.gz'}
						</Text>
						<Text wrap="wrap" color={pg.error ? 'red' : undefined} dimColor={!pg.error}>
							{toolsLine}
						</Text>
						<Text wrap="truncate-end" dimColor>
							Nightly, restore-tested, keep 7 (crontab -e; the password goes in ~/.pgpass, never in the line):
						</Text>
						<Text wrap="wrap">{cron}</Text>
						{view.naming ? (
							<TextField
								label="Restore into a new database (Enter, Esc to cancel): "
								initial={view.naming.initial}
								onSubmit={value => void nameChosen(services, records.find(r => r.id === view.naming?.backup), value.trim())}
								onCancel={() => setUi(store, 'backups', {naming: undefined})}
							/>
						) : view.job ? (
							<JobLine job={view.job} now={now} />
						) : (
							<Text> </Text>
						)}
						<Table
							columns={columns(now)}
							rows={records}
							rowKey={r => r.id}
							width={s.width}
							height={listHeight}
							selection={sel}
							// the catalog's order (readLocalStatus): newest first
							sort={{key: 'started', descending: true}}
							rowStyle={rowStyle}
							emptyText="No backups yet: b takes one."
						/>
					</Box>
				)
			}
		</ScreenFrame>
	);
}

async function nameChosen(services: Services, record: BackupRecord | undefined, into: string): Promise<void> {
	const {store} = services;
	setUi(store, 'backups', {naming: undefined});
	if (!record) return setMessage(store, 'the backup is gone from the list', 'error');
	const refusal = await restoreNameRefusal(services, record, into).catch((error: unknown) => `cannot check the name: ${errorText(error)}`);
	if (refusal) return setMessage(store, sanitize(refusal, 400), 'error');
	confirmRestore(services, record, into);
}

/** How many lines Ink's word wrap makes of `text`, so the list below gets exactly the lines left. */
function wrappedLines(text: string, width: number): number {
	const w = Math.max(1, width);
	let lines = 1;
	let column = 0;
	for (const word of text.split(' ')) {
		if (column > 0 && column + 1 + word.length <= w) column += 1 + word.length;
		else {
			if (column > 0) lines++;
			column = word.length;
		}
		// a word longer than the line is cut across lines
		for (; column > w; column -= w) lines++;
	}
	return lines;
}

