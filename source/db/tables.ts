import {quoteIdent} from './sql.js';
import type {LoadContext, Loader} from '../store/poller.js';

export type TableSizes = {total: number; heap: number; indexes: number; toast: number};

export type TableStat = {
	relid: number;
	schema: string;
	name: string;
	sizes: TableSizes;
	/** sizes from pg_class.relpages (as of the last VACUUM/ANALYZE): an exclusive lock was held or queued on the table */
	estimated: boolean;
	liveRows: number;
	deadRows: number;
	seqScans: number;
	/** rows read by sequential scans */
	seqRows: number;
	/** null when the table has no index */
	idxScans: number | null;
	lastVacuum?: number;
	lastAutovacuum?: number;
	lastAnalyze?: number;
	lastAutoanalyze?: number;
};

export type IndexStat = {
	indexrelid: number;
	relid: number;
	schema: string;
	table: string;
	name: string;
	bytes: number;
	estimated: boolean;
	scans: number;
	unique: boolean;
	primary: boolean;
	/** it enforces a primary key, unique or exclusion constraint */
	constraint: boolean;
	valid: boolean;
	/** the CREATE INDEX / REINDEX phase while a build is in progress */
	building?: string;
	/** never scanned since the stats reset, enforcing nothing, not the migration's, not younger than the stats: a candidate for DROP INDEX */
	unused: boolean;
	/** an object of the active migration plan: never judged on its scans */
	planned?: boolean;
	/** when an apply created it (PostgreSQL keeps no creation time; the migration's own record does) */
	createdAt?: number;
	/** left invalid by a failed CREATE INDEX CONCURRENTLY: costs writes, serves no reads */
	invalid: boolean;
	definition: string;
};

export type TablesData = {
	at: number;
	/** pg_stat_database.stats_reset: scans are counted since then */
	statsReset: number | null;
	tables: TableStat[];
	indexes: IndexStat[];
	/** the migration's record as last read, kept between refreshes */
	record?: MigrationRecord;
	/** the sizes and index definitions as last read (sizes.at, server clock), kept between refreshes */
	sizes: SizesRead;
};

type SizesRead = {
	/** server clock (ms) */
	at: number;
	tables: Map<number, {sizes: TableSizes; estimated: boolean}>;
	/** with the names they were read under: a rename changes the definition */
	indexes: Map<number, {bytes: number; estimated: boolean; definition: string; names: string}>;
	/** an exclusive lock or an index build made them estimates or moving figures: read again on the next refresh */
	unsettled: boolean;
};

type MigrationRecord = {
	createdAt: Map<string, number>;
	/** client clock (ms) when it was read */
	at: number;
	/** the indexes there were then (their relids): a new one is what an apply makes */
	indexes: string;
};

// Size functions and pg_get_indexdef take an ACCESS SHARE lock on the table
// and each of its indexes, which queues behind an ACCESS EXCLUSIVE lock held
// or requested (a migration's ALTER TABLE, a REINDEX) and would fail the whole
// poll on lock_timeout during exactly the incident the console is open for.
// Those tables get pg_class.relpages estimates and no index definition
// instead; CASE evaluates the functions only for the others.
const lockedCte = `
locked AS (
	SELECT DISTINCT relation FROM pg_locks
	WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
), locked_tables AS (
	SELECT relation AS relid FROM locked
	UNION SELECT x.indrelid FROM pg_index x JOIN locked l ON l.relation = x.indexrelid
	UNION SELECT c.oid FROM pg_class c JOIN locked l ON l.relation = c.reltoastrelid
	UNION SELECT c.oid FROM pg_class c JOIN pg_index tx ON tx.indrelid = c.reltoastrelid JOIN locked l ON l.relation = tx.indexrelid
)`;

// Sizes stat every file of every relation and pg_get_indexdef deparses every
// index: most of what the screen cost the server, for figures that move
// slowly. They are read every sizesEveryMs (the screen says how long ago),
// and at once for a relation not read yet, a renamed index, or while a lock
// or an index build made them estimates; the scan counters every refresh.
const tableSizesSql = `
WITH ${lockedCte}
SELECT s.relid,
	lt.relid IS NOT NULL AS locked,
	CASE WHEN lt.relid IS NULL THEN pg_total_relation_size(s.relid) END AS total_bytes,
	CASE WHEN lt.relid IS NULL THEN pg_indexes_size(s.relid) END AS index_bytes,
	CASE WHEN lt.relid IS NULL AND c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) END AS toast_bytes,
	c.relpages::bigint * current_setting('block_size')::bigint AS heap_est,
	(SELECT coalesce(sum(ic.relpages), 0) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = s.relid)::bigint
		* current_setting('block_size')::bigint AS index_est,
	coalesce((SELECT tc.relpages FROM pg_class tc WHERE tc.oid = c.reltoastrelid), 0)::bigint * current_setting('block_size')::bigint AS toast_est
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN locked_tables lt ON lt.relid = s.relid`;

const indexSizesSql = `
WITH ${lockedCte}
SELECT s.indexrelid, s.relname, s.indexrelname,
	lt.relid IS NOT NULL AS locked,
	CASE WHEN lt.relid IS NULL THEN pg_relation_size(s.indexrelid) END AS bytes,
	ic.relpages::bigint * current_setting('block_size')::bigint AS bytes_est,
	CASE WHEN lt.relid IS NULL THEN pg_get_indexdef(s.indexrelid) END AS definition
FROM pg_stat_user_indexes s
JOIN pg_class ic ON ic.oid = s.indexrelid
LEFT JOIN locked_tables lt ON lt.relid = s.relid`;

const tablesSql = `
SELECT s.relid, s.schemaname, s.relname,
	s.n_live_tup, s.n_dead_tup, s.seq_scan, s.seq_tup_read, s.idx_scan,
	s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
FROM pg_stat_user_tables s`;

// A build in progress (CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY) is
// invalid until it finishes: that is not the failed build to drop.
const indexesSql = `
WITH building AS (
	SELECT index_relid, max(phase) AS phase FROM pg_stat_progress_create_index WHERE index_relid <> 0 GROUP BY index_relid
)
SELECT s.indexrelid, s.relid, s.schemaname, s.relname, s.indexrelname,
	s.idx_scan, x.indisunique, x.indisprimary, x.indisvalid,
	EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = s.indexrelid AND con.contype IN ('p', 'u', 'x')) AS enforces,
	b.phase AS building
FROM pg_stat_user_indexes s
JOIN pg_index x ON x.indexrelid = s.indexrelid
LEFT JOIN building b ON b.index_relid = s.indexrelid`;

// whether the migration's record can be read rides along: one statement less
const resetSql = `SELECT now() AS server_time, stats_reset,
	to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), 'SELECT') AS record
FROM pg_stat_database WHERE datname = current_database()`;

type TableRow = {
	relid: number;
	schemaname: string;
	relname: string;
	n_live_tup: string;
	n_dead_tup: string;
	seq_scan: string;
	seq_tup_read: string;
	idx_scan: string | null;
	last_vacuum: Date | null;
	last_autovacuum: Date | null;
	last_analyze: Date | null;
	last_autoanalyze: Date | null;
};

type TableSizeRow = {
	relid: number;
	locked: boolean;
	total_bytes: string | null;
	index_bytes: string | null;
	toast_bytes: string | null;
	heap_est: string;
	index_est: string;
	toast_est: string;
};

type IndexRow = {
	indexrelid: number;
	relid: number;
	schemaname: string;
	relname: string;
	indexrelname: string;
	idx_scan: string;
	indisunique: boolean;
	indisprimary: boolean;
	indisvalid: boolean;
	enforces: boolean;
	building: string | null;
};

type IndexSizeRow = {
	indexrelid: number;
	relname: string;
	indexrelname: string;
	locked: boolean;
	bytes: string | null;
	bytes_est: string;
	definition: string | null;
};

const time = (d: Date | null) => (d ? new Date(d).getTime() : undefined);

function sizesOf(r: TableSizeRow): {sizes: TableSizes; estimated: boolean} {
	if (r.locked || r.total_bytes === null || r.index_bytes === null) {
		const heap = Number(r.heap_est);
		const indexes = Number(r.index_est);
		const toast = Number(r.toast_est);
		return {sizes: {total: heap + indexes + toast, heap, indexes, toast}, estimated: true};
	}
	const total = Number(r.total_bytes);
	const indexes = Number(r.index_bytes);
	const toast = Number(r.toast_bytes ?? 0);
	// the rest: main fork plus free space and visibility maps
	return {sizes: {total, heap: total - indexes - toast, indexes, toast}, estimated: false};
}

/** a relation created since the sizes were read, and gone again by now: nothing to show but zero */
const noSizes = {sizes: {total: 0, heap: 0, indexes: 0, toast: 0}, estimated: true};

function tableStat(r: TableRow, sizes: SizesRead): TableStat {
	return {
		relid: r.relid,
		schema: r.schemaname,
		name: r.relname,
		...(sizes.tables.get(r.relid) ?? noSizes),
		liveRows: Number(r.n_live_tup),
		deadRows: Number(r.n_dead_tup),
		seqScans: Number(r.seq_scan),
		seqRows: Number(r.seq_tup_read),
		idxScans: r.idx_scan === null ? null : Number(r.idx_scan),
		lastVacuum: time(r.last_vacuum),
		lastAutovacuum: time(r.last_autovacuum),
		lastAnalyze: time(r.last_analyze),
		lastAutoanalyze: time(r.last_autoanalyze),
	};
}

const indexNames = (r: {relname: string; indexrelname: string}) => `${r.relname}.${r.indexrelname}`;

function indexSize(r: IndexSizeRow) {
	const estimated = r.locked || r.bytes === null;
	return {bytes: Number(estimated ? r.bytes_est : r.bytes), estimated, definition: r.definition ?? '(not read: the table is under an exclusive lock)', names: indexNames(r)};
}

function indexStat(r: IndexRow, sizes: SizesRead): IndexStat {
	const building = r.building ?? undefined;
	const scans = Number(r.idx_scan);
	const size = sizes.indexes.get(r.indexrelid) ?? {bytes: 0, estimated: true, definition: '(not read yet)'};
	return {
		indexrelid: r.indexrelid,
		relid: r.relid,
		schema: r.schemaname,
		table: r.relname,
		name: r.indexrelname,
		bytes: size.bytes,
		estimated: size.estimated,
		scans,
		unique: r.indisunique,
		primary: r.indisprimary,
		constraint: r.enforces,
		valid: r.indisvalid,
		building,
		unused: scans === 0 && r.indisvalid && !r.indisunique && !r.indisprimary && !r.enforces && !building,
		invalid: !r.indisvalid && !building,
		definition: size.definition,
	};
}

/** Sizes and definitions are read every sizesEveryMs, or sooner when what is shown would otherwise be missing or wrong. */
export const sizesEveryMs = 30_000;

function sizesDue(previous: SizesRead | undefined, serverTime: number, tables: TableRow[], indexes: IndexRow[]): boolean {
	if (!previous || previous.unsettled || serverTime - previous.at >= sizesEveryMs || serverTime < previous.at) return true;
	return tables.some(t => !previous.tables.has(t.relid)) || indexes.some(i => previous.indexes.get(i.indexrelid)?.names !== indexNames(i) || i.building !== null);
}

async function readSizes(ctx: LoadContext, serverTime: number): Promise<SizesRead> {
	const tables = await ctx.db.query<TableSizeRow>(tableSizesSql);
	const indexes = await ctx.db.query<IndexSizeRow>(indexSizesSql);
	const read: SizesRead = {
		at: serverTime,
		tables: new Map(tables.rows.map(r => [r.relid, sizesOf(r)])),
		indexes: new Map(indexes.rows.map(r => [r.indexrelid, indexSize(r)])),
		unsettled: false,
	};
	read.unsettled = [...read.tables.values(), ...read.indexes.values()].some(x => x.estimated);
	return read;
}

/**
 * The record changes only when an apply creates something, which makes an
 * index appear: it is read again when the set of indexes changed, else every
 * 60 s (an apply in another console, a record written after its index).
 */
const recordEveryMs = 60_000;

/** When the migration's applies created its objects (their record next to the archive), read again only when it may have changed. */
async function migrationRecord(ctx: LoadContext, readable: boolean, indexes: string, previous: MigrationRecord | undefined): Promise<MigrationRecord | undefined> {
	if (!readable) return undefined;
	if (previous && previous.indexes === indexes && Date.now() - previous.at < recordEveryMs) return previous;
	const record = `${quoteIdent(ctx.config.migration.plan.archiveSchema)}.migration_created`;
	const r = await ctx.db.query<{object: string; created_at: Date}>(`SELECT object, max(created_at) AS created_at FROM ${record} GROUP BY object`);
	return {createdAt: new Map(r.rows.map(row => [row.object, new Date(row.created_at).getTime()])), at: Date.now(), indexes};
}

export const loadTables: Loader<TablesData> = async (ctx, previous) => {
	const {plan} = ctx.config.migration;
	const reset = await ctx.db.query<{server_time: Date; stats_reset: Date | null; record: boolean}>(resetSql, [`${quoteIdent(plan.archiveSchema)}.migration_created`]);
	const tables = await ctx.db.query<TableRow>(tablesSql);
	const indexes = await ctx.db.query<IndexRow>(indexesSql);
	const at = new Date(reset.rows[0]!.server_time).getTime();
	const sizes = sizesDue(previous?.sizes, at, tables.rows, indexes.rows) ? await readSizes(ctx, at) : previous!.sizes;
	const statsReset = reset.rows[0]?.stats_reset ? new Date(reset.rows[0].stats_reset).getTime() : null;
	const record = await migrationRecord(ctx, reset.rows[0]?.record ?? false, indexes.rows.map(r => r.indexrelid).sort((a, b) => a - b).join(','), previous?.record);
	const names = new Set(plan.objects.map(o => o.name));
	return {
		at,
		statsReset,
		sizes,
		tables: tables.rows.map(r => tableStat(r, sizes)),
		...(record && {record}),
		indexes: indexes.rows.map(r => {
			const i = indexStat(r, sizes);
			const planned = i.schema === plan.schema && names.has(i.name);
			const createdAt = record?.createdAt.get(i.name);
			// zero scans over a window it was not there for says nothing; neither does it for the migration's own indexes
			const young = createdAt !== undefined && (statsReset === null || createdAt > statsReset);
			return {...i, ...(planned && {planned}), ...(createdAt !== undefined && {createdAt}), unused: i.unused && !planned && !young};
		}),
	};
};
