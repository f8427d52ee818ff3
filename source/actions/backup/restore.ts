import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type pg from 'pg';
import {audit, auditContext, type AuditContext} from '../../audit.js';
import type {Target} from '../../db/dsn.js';
import {quoteIdent, quoteLiteral} from '../../db/sql.js';
import {Cancelled, CliError, errorText, ExitCode, failed} from '../../errors.js';
import {readJson, stateRoot, targetKey} from '../../state.js';
import {findRecordByFile, readCatalog, type BackupRecord} from './catalog.js';
import {readSidecar, sha256File, type BackupFormat} from './files.js';
import {compareInventory, takeInventory} from './inventory.js';
import {dbnameConninfo, findPgTools, runTool, toolEnv, type PgTools} from './pg-tools.js';
import {connectFor, readSystemIdentifier} from './session.js';

export type RestoreProgress = {
	phase: 'checksum' | 'creating' | 'restoring' | 'counting' | 'dropping' | 'renaming';
	/** bytes checked (checksum) or read (restoring a plain file) */
	bytes: number;
	sizeBytes: number;
	/** tables whose data is in / counted */
	tablesDone: number;
	/** 0 when the backup's tables are not known */
	tablesTotal: number;
	startedAt: number;
	/** the database being restored into */
	database?: string;
};

type Report = (patch: Partial<RestoreProgress>) => void;

export function progressReporter(sizeBytes: number, tablesTotal: number, onProgress?: (p: RestoreProgress) => void): {report: Report; progress: RestoreProgress} {
	const progress: RestoreProgress = {phase: 'checksum', bytes: 0, sizeBytes, tablesDone: 0, tablesTotal, startedAt: Date.now()};
	return {
		progress,
		report: patch => {
			Object.assign(progress, patch);
			onProgress?.({...progress});
		},
	};
}

/** What the file is, from its first bytes rather than its name: pg_dump's archive header, or gzip's magic number. */
function detectFormat(file: string): BackupFormat | undefined {
	const head = Buffer.alloc(5);
	const fd = fs.openSync(file, 'r');
	try {
		fs.readSync(fd, head, 0, 5, 0);
	} finally {
		fs.closeSync(fd);
	}
	if (head.toString('latin1') === 'PGDMP') return 'custom';
	if (head[0] === 0x1f && head[1] === 0x8b) return 'plain';
	return undefined;
}

type DatabaseShape = {encoding: string; collate: string; ctype: string; owner: string};

export async function databaseShape(admin: pg.Client, database: string): Promise<DatabaseShape | undefined> {
	const r = await admin.query<DatabaseShape>(
		'SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
		[database],
	);
	return r.rows[0];
}

/** From template0, with the encoding and locale of the database the data came from, so every row fits. */
export async function createDatabase(admin: pg.Client, name: string, shape: DatabaseShape, owner?: string): Promise<void> {
	await admin.query(
		`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(shape.encoding)} LC_COLLATE ${quoteLiteral(shape.collate)} LC_CTYPE ${quoteLiteral(shape.ctype)}${owner ? ` OWNER ${quoteIdent(owner)}` : ''}`,
	);
}

/** Only for databases this console created: their sessions are ours (a killed pg_restore's may linger). */
export async function dropOwnDatabase(admin: pg.Client, name: string): Promise<void> {
	await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
	await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
}

export function newDatabaseName(prefix: string): string {
	const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
	return `${prefix}${stamp}_${crypto.randomBytes(3).toString('hex')}`;
}

export async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
	const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
	return r.rowCount !== 0;
}

/**
 * pg_restore or psql into `database`, in one transaction: a failed restore
 * leaves the database as empty as it was. --exit-on-error and ON_ERROR_STOP
 * make any error a failure instead of a warning at the end.
 */
async function restoreFile(o: {target: Target; database: string; file: string; format: BackupFormat; tools: PgTools; applicationName?: string; signal?: AbortSignal; report: Report}): Promise<void> {
	let tablesDone = 0;
	const env = toolEnv(o.target, {database: o.database, applicationName: o.applicationName ?? 'intowork-db/restore'});
	if (o.format === 'custom') {
		const result = await runTool(o.tools.pgRestore, ['--exit-on-error', '--single-transaction', '--no-password', '--verbose', `--dbname=${dbnameConninfo(o.database)}`, o.file], {
			env,
			signal: o.signal,
			onLine: (line, stream) => {
				if (stream === 'stderr' && line.includes(': processing data for table ')) o.report({tablesDone: ++tablesDone});
			},
		});
		if (result.cancelled) throw new Cancelled('cancelled');
		if (!result.ok) throw failed(result.error ?? 'pg_restore failed');
		return;
	}
	const input = fs.createReadStream(o.file);
	let bytes = 0;
	input.on('data', chunk => {
		bytes += chunk.length;
		o.report({bytes});
	});
	const result = await runTool(o.tools.psql, ['--no-psqlrc', '--no-password', '--set=ON_ERROR_STOP=1', '--single-transaction', `--dbname=${dbnameConninfo(o.database)}`], {
		env,
		signal: o.signal,
		stdin: input.pipe(zlib.createGunzip()),
		// psql echoes "COPY n" for each table's data (without --quiet)
		onLine: (line, stream) => {
			if (stream === 'stdout' && /^COPY \d+$/.test(line)) o.report({tablesDone: ++tablesDone});
		},
	});
	input.destroy();
	if (result.cancelled) throw new Cancelled('cancelled');
	if (!result.ok) throw failed(result.error ?? 'psql failed');
}

export type Expected = {sha256: string; sizeBytes?: number; rowCounts?: Record<string, number>; objects?: BackupRecord['objects']};

export type RestoredCheck = {differences: string[]; tables: number; rows: number};

/** Restore into a database we just created, then count it: the differences against what the backup recorded. */
export async function restoreAndCompare(o: {
	target: Target;
	admin: pg.Client;
	database: string;
	file: string;
	format: BackupFormat;
	tools: PgTools;
	expected: Expected;
	/** of pg_restore's or psql's session and the counting one (a console job's own, to find their pids) */
	applicationName?: string;
	signal?: AbortSignal;
	report: Report;
}): Promise<RestoredCheck> {
	o.report({phase: 'restoring', database: o.database, bytes: 0, tablesDone: 0});
	await restoreFile(o);
	o.signal?.throwIfAborted();
	o.report({phase: 'counting', tablesDone: 0});
	const restored = await connectFor(o.target, o.applicationName ?? 'intowork-db/restore-test', o.database);
	try {
		const inventory = await takeInventory(restored, {signal: o.signal, onTable: (done, total) => o.report({tablesDone: done, tablesTotal: total})});
		const differences = o.expected.rowCounts ? compareInventory({rowCounts: o.expected.rowCounts, objects: o.expected.objects}, inventory) : [];
		const counts = Object.values(inventory.rowCounts);
		return {differences, tables: counts.length, rows: counts.reduce((a, b) => a + b, 0)};
	} finally {
		await restored.end().catch(() => undefined);
	}
}

/** Every catalog under the state root: a copy of a backup is known by its bytes, wherever it was copied to. */
function allRecords(env: NodeJS.ProcessEnv): BackupRecord[] {
	let dirs: string[];
	try {
		dirs = fs.readdirSync(stateRoot(env));
	} catch {
		return [];
	}
	return dirs.flatMap(dir => readJson<BackupRecord[]>(path.join(stateRoot(env), dir, 'backups.json'), []));
}

/**
 * The database a custom archive was dumped from, as pg_dump wrote it in the
 * archive's header (`pg_restore --list`: ";     dbname: NAME"). A plain SQL
 * file has no such header; undefined then.
 */
async function archiveDbname(file: string, tools: PgTools): Promise<string | undefined> {
	let dbname: string | undefined;
	const result = await runTool(tools.pgRestore, ['--list', file], {
		env: process.env,
		onLine: (line, stream) => {
			const m = stream === 'stdout' && dbname === undefined ? /^;\s+dbname: (.*)$/.exec(line) : null;
			if (m) dbname = m[1];
		},
	});
	if (!result.ok) throw failed(`${file}: pg_restore cannot read its table of contents: ${result.error ?? 'pg_restore --list failed'}`);
	return dbname;
}

/** Where a backup came from, as far as the file and the catalogs can tell. */
type BackupSource = {
	/** from the archive's header, else from the catalog record */
	database?: string;
	/** the server's, recorded at backup time; undefined when no catalog knows the file */
	systemIdentifier?: string;
};

/** Why `into` must not be replaced by this file, or undefined when it may. */
function sourceConflict(source: BackupSource, into: string, targetSystemIdentifier: string | undefined): string | undefined {
	if (source.database === undefined) return undefined;
	if (source.database !== into) return undefined;
	if (source.systemIdentifier && targetSystemIdentifier && source.systemIdentifier !== targetSystemIdentifier) return undefined;
	const server = source.systemIdentifier ? `on this server (system identifier ${source.systemIdentifier})` : 'and no catalog here records which server, so it may be this one';
	return `refusing to restore into ${into}: it is the source database of this backup; restore into another database and switch over (the file was dumped from database ${source.database} ${server})`;
}

export type RestoreOptions = {
	target: Target;
	file: string;
	into: string;
	/** replace a database that is not empty */
	force?: boolean;
	/** refuse any database that exists, empty or not (the console restores only into a new one) */
	newOnly?: boolean;
	/** of every session it opens (a console job's own, to find their pids) */
	applicationName?: string;
	pgBin?: string;
	signal?: AbortSignal;
	onProgress?(progress: RestoreProgress): void;
	env?: NodeJS.ProcessEnv;
};

export type RestoreOutcome = {
	into: string;
	replaced: boolean;
	tables: number;
	rows: number;
	/** the row counts and objects were compared with the catalog's */
	compared: boolean;
	durationMs: number;
	/** set when the database that was replaced could not be dropped afterwards */
	keptAside?: string;
	/** set when no catalog knows the file: why nothing about it could be verified */
	unverified?: string;
};

/**
 * A checksum beside the file is written by whoever wrote the file: it shows
 * the copy was not damaged since, never that it is the backup it claims to be.
 */
function unverifiedReason(file: string): string {
	return `NOTHING COULD BE VERIFIED: ${path.basename(file)} is in no backup catalog here, and the only checksum was ${path.basename(file)}.sha256 beside it, which anyone who changed the file could rewrite; no row counts or objects to compare`;
}

/**
 * Puts the restored database in place of `into` by renames, the old one
 * first: a rename fails while anyone is connected, and then nothing has
 * changed. Returns the name the old database now has, for dropping.
 */
async function swapIn(admin: pg.Client, staging: string, into: string): Promise<string> {
	const aside = newDatabaseName('intowork_replaced_');
	await admin.query(`ALTER DATABASE ${quoteIdent(into)} RENAME TO ${quoteIdent(aside)}`);
	try {
		await admin.query(`ALTER DATABASE ${quoteIdent(staging)} RENAME TO ${quoteIdent(into)}`);
	} catch (error) {
		await admin.query(`ALTER DATABASE ${quoteIdent(aside)} RENAME TO ${quoteIdent(into)}`).catch(() => {
			throw failed(`${errorText(error)}; and ${into} could not be renamed back: it is now called ${aside}`);
		});
		throw error;
	}
	return aside;
}

/** Said and audited where it was decided; passed through as it is. */
class Refused extends CliError {}

const protectedDatabases = new Set(['template0', 'template1']);

async function userObjectCount(target: Target, database: string, applicationName: string): Promise<number> {
	const client = await connectFor(target, applicationName, database);
	try {
		const r = await client.query<{n: string}>(
			`SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
				AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`,
		);
		return Number(r.rows[0]?.n ?? 0);
	} finally {
		await client.end().catch(() => undefined);
	}
}

/**
 * A real restore into `into` on the target's server. The data goes into a
 * new database first and is counted; only a restore that matches the backup
 * replaces `into` (with --force when it holds anything), by rename, so a
 * failure at any point leaves `into` as it was. Never the source database.
 */
export async function runRestore(o: RestoreOptions): Promise<RestoreOutcome> {
	const env = o.env ?? process.env;
	const into = o.into;
	let ctx: AuditContext = auditContext(o.target, o.target.user);
	const refuse = (message: string, exitCode: number = ExitCode.usage): never => {
		audit(ctx, {action: 'restore', result: 'refused', detail: {file: o.file, into, reason: message}}, env);
		throw new Refused(message, exitCode);
	};
	if (protectedDatabases.has(into)) refuse(`refusing to restore into ${into}: a template database`);
	if (!fs.existsSync(o.file)) refuse(`${o.file}: no such file`);
	const format = detectFormat(o.file);
	if (!format) return refuse(`${o.file}: neither a pg_dump custom archive nor a gzipped SQL file`, ExitCode.failed);

	const size = fs.statSync(o.file).size;
	const {report} = progressReporter(size, 0, o.onProgress);
	const applicationName = o.applicationName ?? 'intowork-db/restore';
	const admin = await connectFor(o.target, applicationName);
	let staging: string | undefined;
	try {
		const info = (await admin.query<{num: string; role: string}>("SELECT current_setting('server_version_num') AS num, current_user AS role")).rows[0]!;
		ctx = auditContext(o.target, info.role);
		const tools = await findPgTools(Math.floor(Number(info.num) / 10000), {pgBin: o.pgBin});

		// The file says who it is, whatever its name or where it was copied: its own bytes and header.
		const headerDb = format === 'custom' ? await archiveDbname(o.file, tools) : undefined;
		const sha256 = await sha256File(o.file, {signal: o.signal, onBytes: bytes => report({bytes})});
		const byPath = findRecordByFile(readCatalog(targetKey(o.target), env), o.file) ?? findRecordByFile(allRecords(env), o.file);
		const record = byPath ?? allRecords(env).find(r => r.sha256 === sha256 && r.sizeBytes === size);
		const source: BackupSource = {database: headerDb ?? record?.database, systemIdentifier: record?.systemIdentifier};
		const conflict = sourceConflict(source, into, await readSystemIdentifier(admin));
		if (conflict) return refuse(conflict);
		if (into === o.target.database) return refuse(`refusing to restore into ${into}: it is the database this restore is connected to; restore into another database and switch over`);
		if (source.database === undefined && (await databaseShape(admin, into)) && (await userObjectCount(o.target, into, applicationName)) > 0) {
			return refuse(`refusing to replace ${into}: ${o.file} is a plain SQL file in no backup catalog here, so nothing says which database it was taken from (it could be ${into} itself); restore it into a new database and switch over`);
		}

		const sidecar = readSidecar(o.file);
		if (!record && !sidecar) return refuse(`${o.file}: no recorded sha256 (not in the backup catalog, no ${o.file}.sha256 beside it); refusing to restore a file that cannot be verified`, ExitCode.failed);
		const expected: Expected = record ?? {sha256: sidecar!};
		// A catalog record outranks the checksum beside the file: whoever changed the file could rewrite that one.
		const rewritten = record && sidecar === sha256 && sha256 !== record.sha256 ? `, and ${path.basename(o.file)}.sha256 beside it was rewritten to match` : '';
		if (expected.sizeBytes !== undefined && size !== expected.sizeBytes) throw failed(`checksum failed: ${o.file} is ${size} bytes, the backup was ${expected.sizeBytes} bytes (truncated or replaced${rewritten})`);
		if (sha256 !== expected.sha256) {
			throw failed(`checksum failed: ${o.file} has sha256 ${sha256.slice(0, 16)}…, ${record ? 'the backup had' : `${o.file}.sha256 says`} ${expected.sha256.slice(0, 16)}… (the file changed after the backup${rewritten})`);
		}
		report({tablesTotal: Object.keys(expected.rowCounts ?? {}).length});

		const existing = await databaseShape(admin, into);
		if (existing && o.newOnly) return refuse(`refusing to restore into ${into}: a database of that name exists; name a new database (nothing was changed)`);
		const objects = existing ? await userObjectCount(o.target, into, applicationName) : 0;
		if (objects > 0 && !o.force) throw failed(`database ${into} is not empty (${objects} tables, views or sequences); add --force to replace it`);
		if (existing) {
			// Checked before the restore, not only at the swap: it would fail there after all the work.
			const sessions = await admin.query('SELECT 1 FROM pg_stat_activity WHERE datname = $1', [into]);
			if (sessions.rowCount) throw failed(`${sessions.rowCount} session(s) are connected to ${into}; it can only be replaced once they disconnect (nothing was changed)`);
		}

		report({phase: 'creating'});
		staging = newDatabaseName('intowork_restore_');
		const shape = existing ?? (await databaseShape(admin, o.target.database))!;
		await createDatabase(admin, staging, shape, existing?.owner);
		const started = Date.now();
		const result = await restoreAndCompare({target: o.target, admin, database: staging, file: o.file, format, tools, expected, applicationName, signal: o.signal, report});
		if (result.differences.length > 0) throw failed(`the restored data does not match the backup, ${into} left as it was: ${result.differences.join('; ')}`);

		report({phase: 'renaming'});
		const aside = existing ? await swapIn(admin, staging, into) : await admin.query(`ALTER DATABASE ${quoteIdent(staging)} RENAME TO ${quoteIdent(into)}`).then(() => undefined);
		staging = undefined;
		const outcome: RestoreOutcome = {into, replaced: existing !== undefined, tables: result.tables, rows: result.rows, compared: expected.rowCounts !== undefined, durationMs: Date.now() - started, ...(record ? {} : {unverified: unverifiedReason(o.file)})};
		if (aside) {
			report({phase: 'dropping', database: aside});
			await admin.query(`DROP DATABASE ${quoteIdent(aside)}`).catch((error: unknown) => {
				outcome.keptAside = `the replaced database was kept as ${aside}: it could not be dropped (${errorText(error)})`;
			});
		}
		audit(ctx, {action: 'restore', result: outcome.unverified ? 'unverified' : 'ok', detail: {file: o.file, into, replaced: outcome.replaced, tables: outcome.tables, rows: outcome.rows, compared: outcome.compared, keptAside: outcome.keptAside, unverified: outcome.unverified}}, env);
		return outcome;
	} catch (error) {
		if (error instanceof Refused) throw error;
		const cancelled = o.signal?.aborted === true || error instanceof Cancelled;
		// Dropped before saying so: the result names what is left, and a drop can fail.
		let partial = '';
		if (staging) {
			const name = staging;
			report({phase: 'dropping'});
			partial = await dropOwnDatabase(admin, name).then(
				() => `, the partially restored database ${name} was dropped`,
				(dropError: unknown) => `; the partially restored database ${name} could not be dropped (${errorText(dropError)}): drop it by hand`,
			);
			staging = undefined;
		}
		const untouched = o.newOnly ? `${into} was not created` : `${into} left as it was`;
		const message = cancelled ? `restore cancelled; ${untouched}${partial}` : `restore failed: ${errorText(error)}${partial}`;
		audit(ctx, {action: 'restore', result: cancelled ? 'cancelled' : 'failed', detail: {file: o.file, into, error: message}}, env);
		if (cancelled) throw new Cancelled(message);
		throw new CliError(message, error instanceof CliError ? error.exitCode : ExitCode.failed);
	} finally {
		if (staging) {
			report({phase: 'dropping'});
			await dropOwnDatabase(admin, staging).catch(() => undefined);
		}
		await admin.end().catch(() => undefined);
	}
}
