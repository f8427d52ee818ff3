import crypto from 'node:crypto';
import fs from 'node:fs';
import type pg from 'pg';
import {audit, auditContext, type AuditContext} from '../../audit.js';
import type {Target} from '../../db/dsn.js';
import {Cancelled, CliError, errorText, ExitCode, failed} from '../../errors.js';
import {formatBytes} from '../../format.js';
import {readCatalog, updateCatalog, type BackupRecord, type Inventory} from './catalog.js';
import {claimBackupPath, defaultBackupDir, diskSpace, ensureBackupDir, publish, reserveBytes, sha256File, spaceShortfall, type BackupFormat} from './files.js';
import {countRows, listObjects, listTables, type TableList} from './inventory.js';
import {choosePgTools, lookForPgTools, runTool, toolEnv, type PgTools} from './pg-tools.js';
import {cancelBackend, connectFor, lockWaitMs, readSystemIdentifier} from './session.js';
import {targetKey} from '../../state.js';

export type BackupProgress = {
	phase: 'preparing' | 'dumping' | 'checksum';
	/** the name the backup will have */
	file?: string;
	/** tables whose data pg_dump has written */
	tablesDone: number;
	tablesTotal: number;
	/** tables counted in the snapshot */
	countedDone: number;
	bytes: number;
	startedAt: number;
	/** pg_dump's process id while it runs */
	pid?: number;
};

export type BackupOptions = {
	target: Target;
	format?: BackupFormat;
	/** default: the target's state directory/backups */
	dir?: string;
	pgBin?: string;
	signal?: AbortSignal;
	onProgress?(progress: BackupProgress): void;
	env?: NodeJS.ProcessEnv;
	/** the application_name of every session the backup opens, pg_dump's too (a console job's own, to find their pids) */
	applicationName?: string;
};

const progressEveryMs = 250;

/** How big the new file will be: the last one of its format says it best, else the tables' size on disk. */
function estimateSize(records: readonly BackupRecord[], format: BackupFormat, list: TableList): {bytes: number; basis: string} {
	const previous = records.filter(r => !r.removedAt && r.format === format).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0];
	if (previous) return {bytes: Math.ceil(previous.sizeBytes * 1.25), basis: `the last ${format} backup was ${formatBytes(previous.sizeBytes)}`};
	// Dumps compress well; half the heap is a safe bound for a first backup.
	return {bytes: Math.ceil(list.dataBytes * 0.5), basis: `half of the tables' ${formatBytes(list.dataBytes)} on disk`};
}

function dumpArgs(format: BackupFormat, file: string, snapshot: string): string[] {
	const args = [`--file=${file}`, `--snapshot=${snapshot}`, '--no-password', '--verbose', `--lock-wait-timeout=${lockWaitMs}`];
	// Plain SQL compressed by pg_dump itself is a gzip file: what `gunzip -c | psql` expects.
	return format === 'custom' ? ['--format=custom', ...args] : ['--format=plain', '--compress=6', ...args];
}

/**
 * One backup, exactly verifiable: a REPEATABLE READ transaction on our own
 * connection exports its snapshot; pg_dump dumps that snapshot while we
 * count every table's rows in it. The file is written as *.partial (0600)
 * and only takes its real name, next to its sha256, once pg_dump succeeded
 * and the counts are in. Throws a CliError (exit code 1) on any failure or
 * cancel, after removing the partial file.
 */
export async function runBackup(options: BackupOptions): Promise<BackupRecord> {
	const {target, signal} = options;
	const format = options.format ?? 'custom';
	const key = targetKey(target);
	const env = options.env ?? process.env;
	const startedAt = Date.now();
	const progress: BackupProgress = {phase: 'preparing', tablesDone: 0, tablesTotal: 0, countedDone: 0, bytes: 0, startedAt};
	const report = (patch: Partial<BackupProgress> = {}) => {
		Object.assign(progress, patch);
		options.onProgress?.({...progress});
	};
	report();

	let ctx: AuditContext = auditContext(target, target.user);
	let partial: string | undefined;
	const removePartial = () => {
		if (partial) fs.rmSync(partial, {force: true});
	};
	process.once('exit', removePartial);
	let client: pg.Client | undefined;
	try {
		const dir = ensureBackupDir(options.dir ?? defaultBackupDir(key, env));
		// pg_dump --version runs while we connect: until pg_dump starts, every step is time a bare pg_dump does not spend
		const onMachine = lookForPgTools({pgBin: options.pgBin});
		onMachine.catch(() => undefined); // awaited below; a failed connect must not leave it unhandled
		client = await connectFor(target, options.applicationName ?? 'intowork-db/backup');
		const info = (await client.query<{version: string; num: string; role: string; pid: number}>("SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, current_user AS role, pg_backend_pid() AS pid")).rows[0]!;
		const systemIdentifier = await readSystemIdentifier(client);
		ctx = auditContext(target, info.role);
		const tools = choosePgTools(await onMachine, Math.floor(Number(info.num) / 10000));
		signal?.throwIfAborted();

		await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
		const snapshot = (await client.query<{snapshot: string}>('SELECT pg_export_snapshot() AS snapshot')).rows[0]!.snapshot;
		const list = await listTables(client);

		const space = diskSpace(dir);
		const shortfall = spaceShortfall(dir, space, estimateSize(readCatalog(key, env), format, list));
		if (shortfall) throw failed(shortfall);
		signal?.throwIfAborted();

		const claimed = claimBackupPath(dir, target.database, new Date(startedAt), format);
		const file = claimed.file;
		partial = claimed.partial;
		report({phase: 'dumping', file, tablesTotal: list.withRows.length});

		const {counts, objects} = await dumpAndCount({target, applicationName: options.applicationName, client, backendPid: info.pid, tools, format, partial, snapshot, list, signal, report, dir});
		await client.query('ROLLBACK');

		report({phase: 'checksum'});
		const sha256 = await sha256File(partial, {signal});
		const sizeBytes = fs.statSync(partial).size;
		publish(partial, file, sha256);
		partial = undefined;

		const finishedAt = Date.now();
		const record: BackupRecord = {
			id: crypto.randomUUID(),
			file,
			format,
			sizeBytes,
			sha256,
			startedAt: new Date(startedAt).toISOString(),
			finishedAt: new Date(finishedAt).toISOString(),
			durationMs: finishedAt - startedAt,
			serverVersion: info.version,
			database: target.database,
			...(systemIdentifier ? {systemIdentifier} : {}),
			rowCounts: counts,
			objects,
			pgDumpVersion: tools.version,
		};
		updateCatalog(key, records => [...records, record], env);
		const rows = Object.values(counts).reduce((a, b) => a + b, 0);
		audit(ctx, {action: 'backup', result: 'ok', detail: {file, format, sizeBytes, sha256, tables: list.withRows.length, rows, durationMs: record.durationMs, pgDump: tools.pgDump}}, env);
		return record;
	} catch (error) {
		removePartial();
		const cancelled = signal?.aborted === true || error instanceof Cancelled;
		const message = cancelled ? 'backup cancelled; the partial file was removed' : `backup failed: ${errorText(error)}`;
		audit(ctx, {action: 'backup', result: cancelled ? 'cancelled' : 'failed', detail: {format, error: message}}, env);
		if (cancelled) throw new Cancelled(message);
		// a connection problem keeps its own exit code (unreachable, auth, ...)
		throw new CliError(message, error instanceof CliError ? error.exitCode : ExitCode.failed);
	} finally {
		process.off('exit', removePartial);
		await client?.end().catch(() => undefined);
	}
}

// pg_dump names the first object it could not read; the operator needs the grant that covers them all.
function withPrivilegeHint(error: string): string {
	if (!/permission denied/i.test(error)) return error;
	return `${error} (the backup role must read every table and sequence: GRANT pg_read_all_data TO it on PostgreSQL 14 and later, else GRANT SELECT ON ALL TABLES IN SCHEMA and ON ALL SEQUENCES IN SCHEMA for each schema)`;
}

type DumpJob = {
	target: Target;
	applicationName?: string;
	client: pg.Client;
	backendPid: number;
	tools: PgTools;
	format: BackupFormat;
	partial: string;
	snapshot: string;
	list: TableList;
	dir: string;
	signal?: AbortSignal;
	report(patch: Partial<BackupProgress>): void;
};

/**
 * pg_dump and the counts (and the list of indexes and constraints, also in
 * the snapshot) run side by side, so the backup takes about as long as
 * pg_dump alone. Whichever fails first stops the other: a count stuck
 * behind a lock is cancelled on the server, pg_dump gets SIGTERM.
 */
async function dumpAndCount(job: DumpJob): Promise<{counts: Record<string, number>; objects: Inventory['objects']}> {
	const stop = new AbortController();
	const outer = job.signal;
	const onOuterAbort = () => stop.abort();
	outer?.addEventListener('abort', onOuterAbort, {once: true});
	if (outer?.aborted) stop.abort();
	let diskFull: string | undefined;
	let countsRunning = true;
	stop.signal.addEventListener('abort', () => {
		if (countsRunning) void cancelBackend(job.target, job.backendPid);
	});

	let tablesDone = 0;
	const watch = setInterval(() => {
		try {
			const bytes = fs.statSync(job.partial).size;
			const space = diskSpace(job.dir);
			if (space.free < reserveBytes(space) / 2) {
				diskFull = `the disk holding ${job.dir} is almost full (${formatBytes(space.free)} free); stopped before filling it`;
				stop.abort();
			}
			job.report({bytes});
		} catch {
			// the file is gone once the dump failed; the result says why
		}
	}, progressEveryMs);

	const dump = runTool(job.tools.pgDump, dumpArgs(job.format, job.partial, job.snapshot), {
		env: toolEnv(job.target, {applicationName: job.applicationName}),
		signal: stop.signal,
		onSpawn: pid => job.report({pid}),
		onLine: line => {
			if (line.includes(': dumping contents of table ')) job.report({tablesDone: ++tablesDone});
		},
	}).then(result => {
		if (!result.ok) stop.abort();
		return result;
	});
	const counting = (async () => {
		// Locked like pg_dump locks them, so a count never waits behind a schema change that arrived later.
		if (job.list.withRows.length > 0) await job.client.query(`LOCK TABLE ${job.list.withRows.join(', ')} IN ACCESS SHARE MODE`);
		// pg_dump compresses in its own process, a core's work, while its backend reads: parallel
		// workers would make each count three processes taking CPU from it, one fits beside it
		await job.client.query('SET LOCAL max_parallel_workers_per_gather = 0');
		const objects = await listObjects(job.client, job.list);
		const counts = await countRows(job.client, job.list.withRows, {signal: stop.signal, onTable: countedDone => job.report({countedDone})});
		return {counts, objects};
	})().catch((error: unknown) => {
		stop.abort();
		return {error};
	});
	void counting.then(() => {
		countsRunning = false;
	});

	try {
		const [dumped, counted] = await Promise.all([dump, counting]);
		if (outer?.aborted) throw new Cancelled('cancelled');
		if (diskFull) throw failed(diskFull);
		if (!dumped.ok) throw failed(withPrivilegeHint(dumped.error ?? 'pg_dump failed'));
		if ('error' in counted) throw failed(`counting rows in the snapshot: ${errorText(counted.error)}`);
		job.report({bytes: fs.statSync(job.partial).size, tablesDone: job.list.withRows.length, pid: undefined});
		return counted;
	} finally {
		clearInterval(watch);
		outer?.removeEventListener('abort', onOuterAbort);
	}
}
