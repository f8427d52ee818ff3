import fs from 'node:fs';
import {latestBackup, type BackupRecord} from '../backup/catalog.js';
import type {Queryable} from '../../db/monitor.js';
import {formatBytes, formatDuration, formatNumber} from '../../format.js';
import {sanitize} from '../../sanitize.js';
import {countDuplicates, type DuplicateCount} from './duplicates.js';
import {qualified, type MigrationPlan, type PlanObject} from './plan.js';
import {describeError, migrateApplicationName} from './session.js';
import type {Inspection} from './status.js';

export type PreflightLevel = 'ok' | 'info' | 'warn' | 'block';

export type PreflightItem = {
	id: 'server' | 'plan' | 'alembic' | 'objects' | 'duplicates' | 'invalid' | 'transactions' | 'backup' | 'space';
	level: PreflightLevel;
	title: string;
	summary: string;
	/** details, one per line */
	lines: string[];
	/** a block the operator may override knowingly (only the backup check) */
	overridable?: boolean;
};

export type PreflightReport = {
	items: PreflightItem[];
	/** a block nothing but fixing it clears */
	blocked: boolean;
	/** only overridable blocks stand */
	needsOverride: boolean;
};

/** A session with an open transaction, and what a concurrent build would make of it. */
export type OpenTransaction = {
	pid: number;
	user: string;
	application: string;
	state: string;
	xactMs: number;
	query: string;
	/** holds a snapshot: every concurrent build waits for it to end ("waiting for old snapshots") */
	snapshot: boolean;
	/** plan tables it holds a row-writing (or stronger) lock on: builds on them wait in "waiting for writers" */
	writes: string[];
	/** plan tables with a unique object it holds any lock on: ADD CONSTRAINT cannot get its ACCESS EXCLUSIVE lock */
	locksConstraintTables: string[];
};

export type InvalidIndex = {schema: string; name: string; table: string; inPlan: boolean};

export type ObjectEstimate = {name: string; rows: number; bytes: number};

export type SpaceCheck = {
	estimates: ObjectEstimate[];
	totalBytes: number;
	/** bytes free to unprivileged writers on the data directory's file system; undefined when it cannot be read from here */
	freeBytes?: number;
	/** where freeBytes was read, or why it could not be */
	where: string;
};

/** The slow half of the pre-flight (full scans for duplicates, EXPLAIN per object): refreshed less often. */
export type SlowChecks = {
	at: number;
	/** undefined: not counted (yet), never "none" */
	duplicates?: DuplicateCount[];
	duplicatesError?: string;
	/** when the duplicates were counted, when that was apart from the rest (the console's count job) */
	countedAt?: number;
	/** a count is running now: what it counts */
	counting?: string;
	/** problems with the plan against this database: missing tables or columns, predicates that do not parse, privileges */
	planProblems: string[];
	space: SpaceCheck;
};

export type FastChecks = {
	inRecovery: boolean;
	/** superuser or pg_read_all_stats: other roles' transactions are visible, not blanked out */
	seesAllSessions: boolean;
	transactions: OpenTransaction[];
	invalid: InvalidIndex[];
};

export type BackupCheck = {level: 'ok' | 'block'; summary: string};

/** Transactions younger than this are everyday traffic that ends on its own. */
export const longTransactionMs = 1000;

const backupMaxAgeMs = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------- reading

export async function readFastChecks(db: Queryable, plan: MigrationPlan, minAgeMs = longTransactionMs): Promise<FastChecks> {
	const tables = [...new Set(plan.objects.map(o => o.table))];
	const constraintTables = [...new Set(plan.objects.filter(o => o.unique).map(o => o.table))];
	const tx = await db.query<{
		pid: number;
		usename: string | null;
		application_name: string | null;
		state: string | null;
		xact_ms: number;
		query: string | null;
		snapshot: boolean;
		locks: Array<{table: string; mode: string}> | null;
	}>(
		`SELECT a.pid, a.usename, a.application_name, a.state, extract(epoch FROM now() - a.xact_start) * 1000 AS xact_ms, left(a.query, 300) AS query,
			a.backend_xmin IS NOT NULL AS snapshot,
			(SELECT json_agg(json_build_object('table', c.relname, 'mode', l.mode)) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
				WHERE l.pid = a.pid AND l.granted AND c.relname = ANY ($1::text[])
					AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $2)) AS locks
		FROM pg_stat_activity a
		WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
			AND a.xact_start IS NOT NULL AND a.xact_start <= now() - $3 * interval '1 millisecond'
			AND coalesce(a.application_name, '') <> $4
		ORDER BY a.xact_start`,
		[tables, plan.schema, minAgeMs, migrateApplicationName],
	);
	// ShareLock (what a build waits for writers with) conflicts with these.
	const writeModes = new Set(['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock']);
	const transactions = tx.rows.map(row => {
		const locks = row.locks ?? [];
		return {
			pid: row.pid,
			user: sanitize(row.usename, 60),
			application: sanitize(row.application_name, 60),
			state: sanitize(row.state, 40),
			xactMs: Number(row.xact_ms),
			query: sanitize(row.query, 300),
			snapshot: row.snapshot,
			writes: [...new Set(locks.filter(l => writeModes.has(l.mode)).map(l => l.table))].sort(),
			locksConstraintTables: [...new Set(locks.filter(l => constraintTables.includes(l.table)).map(l => l.table))].sort(),
		};
	});
	const names = new Set(plan.objects.map(o => o.name));
	const invalid = await db.query<{schema: string; name: string; table: string}>(
		`SELECT n.nspname::text AS schema, c.relname::text AS name, t.relname::text AS table
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
			AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
		ORDER BY 1, 2`,
	);
	const server = await db.query<{recovery: boolean; sees_all: boolean}>(
		`SELECT pg_is_in_recovery() AS recovery, r.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all
		FROM pg_roles r WHERE r.rolname = current_user`,
	);
	return {
		inRecovery: server.rows[0]!.recovery,
		seesAllSessions: server.rows[0]!.sees_all,
		transactions,
		invalid: invalid.rows.map(r => ({schema: r.schema, name: r.name, table: r.table, inPlan: r.schema === plan.schema && names.has(r.name)})),
	};
}

type TableRow = {name: string; exists: boolean; owner: boolean; tablespace: string};
type ColumnRow = {tbl: string; col: string; exists: boolean; avg_width: number | null; null_frac: number | null; attlen: number | null};

const maxAlign = (n: number) => Math.ceil(n / 8) * 8;

/**
 * A B-tree leaf holds, per row, an 8-byte tuple header plus the key (average
 * width from pg_stats), aligned to 8, and a 4-byte line pointer; leaves are
 * filled to 90%, inner pages add about 1%. Deduplication can make a
 * non-unique index smaller, so this is an upper bound.
 */
function estimateBytes(rows: number, widths: number[]): number {
	const tuple = maxAlign(8 + widths.reduce((a, b) => a + b, 0)) + 4;
	return Math.round(((rows * tuple) / 0.9) * 1.01) + 2 * 8192;
}

async function explainRows(db: Queryable, plan: MigrationPlan, o: PlanObject): Promise<number> {
	const r = await db.query<{'QUERY PLAN': Array<{Plan: {'Plan Rows': number}}>}>(
		`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${qualified(plan, o.table)}${o.where ? ` WHERE ${o.where}` : ''}`,
	);
	return r.rows[0]!['QUERY PLAN'][0]!.Plan['Plan Rows'];
}

type ServerDisk = {data_directory?: string; socket: boolean; system_identifier?: string};

/**
 * Free space can only be read where the data directory is visible: a server
 * on this machine. pg_control's first field is the cluster's system
 * identifier, so a same-named directory on another machine is not mistaken
 * for the server's.
 */
async function freeSpace(db: Queryable, tablespaces: string[]): Promise<Pick<SpaceCheck, 'freeBytes' | 'where'>> {
	if (tablespaces.some(t => t !== 'pg_default')) return {where: 'not checked: a table is outside the default tablespace'};
	const disk: ServerDisk = {socket: false};
	const read = async <T>(sql: string): Promise<T | undefined> => (await db.query<{v: T}>(sql).catch(() => undefined))?.rows[0]?.v;
	disk.data_directory = await read<string>("SELECT current_setting('data_directory') AS v");
	disk.socket = (await read<boolean>('SELECT inet_server_addr() IS NULL AS v')) ?? false;
	disk.system_identifier = await read<string>('SELECT system_identifier::text AS v FROM pg_control_system()');
	if (!disk.data_directory) return {where: 'unknown: reading data_directory needs pg_read_all_settings'};
	let local = false;
	try {
		const control = fs.readFileSync(`${disk.data_directory}/global/pg_control`);
		local = disk.system_identifier !== undefined && control.readBigUInt64LE(0).toString() === disk.system_identifier;
	} catch {
		// Not readable as this OS user: a Unix socket connection still proves the server is here.
		local = disk.socket && fs.existsSync(disk.data_directory);
	}
	if (!local) return {where: 'unknown: the server is not on this machine'};
	try {
		const s = await fs.promises.statfs(disk.data_directory);
		return {freeBytes: s.bavail * s.bsize, where: sanitize(disk.data_directory, 200)};
	} catch (error) {
		return {where: `unknown: ${describeError(error)}`};
	}
}

/** Duplicates, the plan against the catalog, predicate checks and size estimates: the pre-flight's expensive part. */
export async function readSlowChecks(
	db: Queryable,
	plan: MigrationPlan,
	inspection: Inspection,
	/** false: the caller counts them elsewhere (the console, on a connection of its own) */
	options: {duplicates?: boolean} = {},
): Promise<SlowChecks> {
	const problems: string[] = [];
	const tables = [...new Set(plan.objects.map(o => o.table))];
	const t = await db.query<TableRow>(
		`SELECT x.name, c.oid IS NOT NULL AS exists, coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), false) AS owner,
			coalesce(ts.spcname::text, 'pg_default') AS tablespace
		FROM unnest($1::text[]) AS x(name)
		LEFT JOIN pg_class c ON c.relname = x.name AND c.relkind IN ('r', 'p') AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $2)
		LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace`,
		[tables, plan.schema],
	);
	const tableInfo = new Map(t.rows.map(r => [r.name, r]));
	for (const r of t.rows) {
		if (!r.exists) problems.push(`table ${plan.schema}.${r.name} does not exist (is this the right database, or the right --migration-plan?)`);
		else if (!r.owner) problems.push(`${plan.schema}.${r.name}: only its owner may index it; connect as the role that owns the tables (the one Alembic uses)`);
	}
	const pairs = plan.objects.flatMap(o => o.columns.map(c => [o.table, c] as const));
	const c = await db.query<ColumnRow>(
		`SELECT x.tbl, x.col, a.attnum IS NOT NULL AS exists, s.avg_width, s.null_frac, a.attlen
		FROM unnest($1::text[], $2::text[]) AS x(tbl, col)
		LEFT JOIN pg_class c ON c.relname = x.tbl AND c.relkind IN ('r', 'p') AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $3)
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = x.col AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_stats s ON s.schemaname = $3 AND s.tablename = x.tbl AND s.attname = x.col`,
		[pairs.map(p => p[0]), pairs.map(p => p[1]), plan.schema],
	);
	const columnInfo = new Map(c.rows.map(r => [`${r.tbl}.${r.col}`, r]));
	const estimates: ObjectEstimate[] = [];
	for (const o of plan.objects) {
		if (!tableInfo.get(o.table)?.exists) continue;
		for (const col of o.columns) if (!columnInfo.get(`${o.table}.${col}`)?.exists) problems.push(`${o.name}: ${o.table} has no column ${col}`);
	}
	for (const i of inspection.objects) {
		const o = i.object;
		if (i.state === 'valid' || !tableInfo.get(o.table)?.exists || o.columns.some(col => !columnInfo.get(`${o.table}.${col}`)?.exists)) continue;
		let rows: number;
		try {
			rows = await explainRows(db, plan, o);
		} catch (error) {
			problems.push(`${o.name}: WHERE ${o.where ?? ''} does not work on ${o.table}: ${describeError(error)}`);
			continue;
		}
		const widths = o.columns.map(col => {
			const info = columnInfo.get(`${o.table}.${col}`)!;
			const width = info.avg_width ?? (info.attlen !== null && info.attlen > 0 ? info.attlen : 32);
			return width * (1 - (info.null_frac ?? 0));
		});
		estimates.push({name: o.name, rows, bytes: estimateBytes(rows, widths)});
	}
	let duplicates: DuplicateCount[] | undefined;
	let duplicatesError: string | undefined;
	const pending = inspection.objects.filter(i => i.object.unique && i.state !== 'valid' && tableInfo.get(i.object.table)?.exists).map(i => i.object);
	if (options.duplicates !== false) {
		try {
			duplicates = await countDuplicates(db, plan, pending);
		} catch (error) {
			duplicatesError = describeError(error);
		}
	}
	const totalBytes = estimates.reduce((n, e) => n + e.bytes, 0);
	const space = {estimates, totalBytes, ...(await freeSpace(db, t.rows.filter(r => r.exists).map(r => r.tablespace)))};
	return {at: Date.now(), duplicates, duplicatesError, planProblems: problems, space};
}

export function backupCheck(records: readonly BackupRecord[], now = Date.now()): BackupCheck {
	const latest = latestBackup(records);
	if (!latest) return {level: 'block', summary: 'no backup of this database in the catalog: take one first (Backups screen, or intowork-db backup)'};
	const age = now - Date.parse(latest.finishedAt);
	const tested = !latest.restoreTest ? 'not restore-tested' : latest.restoreTest.passed ? 'restore-tested' : 'its restore test FAILED';
	const line = `last backup ${formatDuration(age)} ago (${formatBytes(latest.sizeBytes)}, ${tested})`;
	return age > backupMaxAgeMs ? {level: 'block', summary: `${line}: older than 24 h, take a fresh one first`} : {level: 'ok', summary: line};
}

// ---------------------------------------------------------------- judging

export function describeTransaction(t: OpenTransaction): string {
	const effects: string[] = [];
	if (t.snapshot) effects.push('holds a snapshot: every build waits for it');
	else if (t.writes.length) effects.push(`writes ${t.writes.join(', ')}: builds there wait for it`);
	if (t.locksConstraintTables.length) effects.push(`locks ${t.locksConstraintTables.join(', ')}: ADD CONSTRAINT cannot take its lock`);
	const effect = effects.length ? effects.join('; ') : 'no snapshot, no lock on the plan tables: the builds do not wait for it';
	return `pid ${t.pid} ${t.application || '(no application_name)'} ${t.user} ${t.state} for ${formatDuration(t.xactMs)}: ${effect} · ${t.query}`;
}

export const transactionBlocksBuild = (t: OpenTransaction) => t.snapshot || t.writes.length > 0 || t.locksConstraintTables.length > 0;

const connectionsHint = 'end them on the Connections screen (key 2, then k), or wait: the build waits, it does not fail';

export function evaluatePreflight(
	mode: 'apply' | 'downgrade',
	plan: MigrationPlan,
	inspection: Inspection,
	fast: FastChecks,
	slow: SlowChecks | undefined,
	backup: BackupCheck,
	/** the backend of a run this console has going: its build is not someone else's */
	ownBuildPid?: number,
): PreflightReport {
	const items: PreflightItem[] = [];
	if (fast.inRecovery) items.push({id: 'server', level: 'block', title: 'Server', summary: 'a standby (in recovery): run the migration on the primary', lines: []});

	if (slow) {
		const level = slow.planProblems.length ? 'block' : 'ok';
		const tables = new Set(plan.objects.map(o => o.table)).size;
		items.push({id: 'plan', level, title: 'Plan', summary: level === 'ok' ? `${plan.objects.length} objects on ${tables} tables: tables, columns and predicates check out, tables owned by this role` : `${slow.planProblems.length} problems with the plan on this database`, lines: slow.planProblems});
	}

	const v = inspection.alembicVersion;
	const from = mode === 'apply' ? plan.previousRevision : plan.revision;
	const to = mode === 'apply' ? plan.revision : plan.previousRevision;
	if (v === undefined) items.push({id: 'alembic', level: 'block', title: 'Alembic', summary: `no ${plan.schema}.alembic_version table: is this the IntoWork database?`, lines: []});
	else if (v === null) items.push({id: 'alembic', level: 'block', title: 'Alembic', summary: 'alembic_version is empty: Alembic has never run here', lines: []});
	else if (v === from) items.push({id: 'alembic', level: 'ok', title: 'Alembic', summary: `${v} → ${to}`, lines: []});
	else if (v === to) items.push({id: 'alembic', level: 'ok', title: 'Alembic', summary: `already at ${to}; ${mode === 'apply' ? 'apply only repairs objects' : 'downgrade only drops what is left'}`, lines: []});
	else items.push({id: 'alembic', level: 'block', title: 'Alembic', summary: `alembic_version is ${v}: this plan goes from ${plan.previousRevision} to ${plan.revision}`, lines: []});

	const building = inspection.objects.filter(i => i.state === 'building' && i.buildingPid !== ownBuildPid);
	const mismatched = inspection.objects.filter(i => i.mismatch);
	const objectLines = [...building.map(i => `${i.object.name}: ${i.detail}`), ...(mode === 'apply' ? mismatched.map(i => `${i.object.name}: ${i.mismatch}`) : [])];
	const count = (s: string) => inspection.objects.filter(i => i.state === s && !i.mismatch).length;
	const summary =
		mode === 'apply'
			? `${count('valid')} valid, ${count('missing') + count('building') - building.length} to build, ${count('invalid')} INVALID to rebuild${building.length ? `, ${building.length} being built elsewhere` : ''}`
			: `${inspection.objects.filter(i => i.present && !i.mismatch).length} to drop${mismatched.length ? `, ${mismatched.length} not ours (left in place)` : ''}`;
	items.push({id: 'objects', level: building.length || (mode === 'apply' && mismatched.length) ? 'block' : 'ok', title: 'Objects', summary, lines: objectLines});

	if (mode === 'apply') {
		const again = slow?.counting ? ` · counting again: ${slow.counting}` : '';
		const age = slow?.countedAt === undefined ? '' : ` (counted ${formatDuration(Date.now() - slow.countedAt)} ago${again})`;
		if (slow?.duplicatesError) items.push({id: 'duplicates', level: 'warn', title: 'Duplicates', summary: `could not count: ${slow.duplicatesError}${slow.counting ? again : ' (r counts again)'}`, lines: []});
		// Without a count nothing is known: never "none".
		else if (!slow?.duplicates)
			items.push({id: 'duplicates', level: 'info', title: 'Duplicates', summary: slow?.counting ? `counting… ${slow.counting}` : slow ? 'not counted yet' : 'counting…', lines: []});
		else {
			const found = slow.duplicates.filter(d => d.groups > 0);
			items.push({
				id: 'duplicates',
				level: found.length ? 'block' : 'ok',
				title: 'Duplicates',
				summary: found.length
					? `${formatNumber(found.reduce((n, d) => n + d.extraRows, 0))} duplicate rows stop ${found.length} unique constraint${found.length > 1 ? 's' : ''}: archive them first${age}`
					: `none for the unique constraints still to add${age}`,
				lines: found.map(d => `${d.object}: ${formatNumber(d.groups)} groups, ${formatNumber(d.extraRows)} extra rows in ${d.table} (${d.columns.join(', ')})`),
			});
		}

		const ours = fast.invalid.filter(i => i.inPlan);
		const others = fast.invalid.filter(i => !i.inPlan);
		items.push({
			id: 'invalid',
			level: fast.invalid.length ? 'warn' : 'ok',
			title: 'Invalid indexes',
			summary: fast.invalid.length ? `${fast.invalid.length} INVALID (left by failed concurrent builds; never used by queries, yet each one whose build got past its first phase (pg_index.indisready) is still updated on every write)` : 'none',
			lines: [
				...ours.map(i => `${i.name} on ${i.table}: part of this plan, apply drops and rebuilds it`),
				...others.map(i => `${i.schema}.${i.name} on ${i.table}: not in this plan; DROP INDEX CONCURRENTLY ${i.schema}.${i.name}`),
			],
		});
	}

	const waiting = fast.transactions.filter(transactionBlocksBuild);
	// Without pg_read_all_stats another role's snapshot and locks read as nothing: "none" would be a guess.
	const blind = fast.seesAllSessions ? [] : ["this role cannot see other roles' transactions, so this list may be incomplete: GRANT pg_monitor TO it"];
	items.push({
		id: 'transactions',
		level: waiting.length || blind.length ? 'warn' : fast.transactions.length ? 'info' : 'ok',
		title: 'Transactions',
		summary: waiting.length
			? `${waiting.length} open transaction${waiting.length > 1 ? 's' : ''} the concurrent build${mode === 'downgrade' ? 's and drops' : 's'} will wait for: ${connectionsHint}`
			: fast.transactions.length
				? `${fast.transactions.length} long transaction${fast.transactions.length > 1 ? 's' : ''}, none the builds wait for`
				: `no transaction open for ${formatDuration(longTransactionMs)} or more`,
		lines: [...blind, ...fast.transactions.map(describeTransaction)],
	});

	if (mode === 'apply') {
		items.push({
			id: 'backup',
			level: backup.level,
			title: 'Backup',
			summary: backup.summary,
			lines: backup.level === 'block' ? ['to go ahead anyway: type "no backup" at the apply prompt, or migrate --apply --without-backup'] : [],
			overridable: backup.level === 'block',
		});
		if (slow) {
			const s = slow.space;
			const needed = `≈ ${formatBytes(s.totalBytes)} for ${s.estimates.length} object${s.estimates.length === 1 ? '' : 's'} (+ as much in temp files while sorting)`;
			let level: PreflightLevel = 'info';
			let summary = `${needed}; free space ${s.where}`;
			if (s.freeBytes !== undefined) {
				summary = `${needed}; ${formatBytes(s.freeBytes)} free on ${s.where}`;
				level = s.totalBytes > s.freeBytes ? 'block' : 2 * s.totalBytes > s.freeBytes ? 'warn' : 'ok';
			}
			const biggest = [...s.estimates].sort((a, b) => b.bytes - a.bytes).slice(0, 3);
			items.push({id: 'space', level, title: 'Space', summary, lines: biggest.map(e => `${e.name}: ≈ ${formatBytes(e.bytes)} (${formatNumber(e.rows)} rows)`)});
		}
	}

	const blocks = items.filter(i => i.level === 'block');
	const blocked = blocks.some(i => !i.overridable);
	return {items, blocked, needsOverride: !blocked && blocks.length > 0};
}

/** The blocking items as one line each, for a refusal. */
export const blockingLines = (report: PreflightReport) => report.items.filter(i => i.level === 'block').map(i => `${i.title}: ${i.summary}${i.lines.length ? ` (${i.lines.join('; ')})` : ''}`);
