import {RingBuffer} from '../ring-buffer.js';
import type {Loader} from '../store/poller.js';
import {minIntervalMs} from '../store/store.js';

/** Buffer accesses: found in shared buffers, or read from the OS (its page cache or the disk). */
export type HitRead = {hit: number; read: number};

export const cacheKinds = ['database', 'heap', 'index'] as const;
export type CacheKind = (typeof cacheKinds)[number];

export type CacheSample = {
	/** server clock (ms), so rates do not drift with the client's */
	at: number;
	/** pg_stat_database: every block this database touched, catalogs included */
	database: HitRead;
	/** pg_statio_user_tables: table heaps */
	heap: HitRead;
	/** pg_statio_user_indexes */
	index: HitRead;
};

export type TableCache = {
	relid: number;
	schema: string;
	name: string;
	heap: HitRead;
	index: HitRead;
	/** the TOAST table and its index */
	toast: HitRead;
};

export type TableCacheRow = TableCache & {
	/** blocks read (heap, indexes, TOAST) over the last interval; undefined before the second sample or after a reset */
	intervalReads?: number;
	intervalHeap?: HitRead;
	intervalIndex?: HitRead;
};

export type Ratios = {
	/** since the stats reset */
	cumulative?: number;
	/** over the last refresh interval */
	interval?: number;
	/** over the last five minutes, or as much of them as has been watched */
	window?: number;
	windowSeconds?: number;
};

export type CacheData = {
	sample: CacheSample;
	/** pg_stat_database.stats_reset (ms); null when this database's statistics were never reset */
	statsReset: number | null;
	/** raw counters, oldest first */
	history: RingBuffer<CacheSample>;
	ratios: Record<CacheKind, Ratios>;
	intervalSeconds?: number;
	/** most disk reads in the last interval first */
	tables: TableCacheRow[];
};

const windowMs = 5 * 60_000;
/** Enough samples for the five-minute window at the fastest refresh the console allows. */
export const historyCapacity = Math.ceil(windowMs / minIntervalMs) + 1;

/** The runbook's formula: sum(blks_hit) / (sum(blks_hit) + sum(blks_read)); undefined with nothing to measure. */
export function hitRatio(c: HitRead | undefined): number | undefined {
	if (!c) return undefined;
	const total = c.hit + c.read;
	return total > 0 ? c.hit / total : undefined;
}

/** Counters since `older`; undefined when they went backwards (a stats reset) in between. */
export function delta(newer: HitRead, older: HitRead | undefined): HitRead | undefined {
	if (!older) return undefined;
	if (newer.hit < older.hit || newer.read < older.read) return undefined;
	return {hit: newer.hit - older.hit, read: newer.read - older.read};
}

/**
 * The ratio over the newest samples spanning at most `spanMs`, stopping at a
 * reset (counters going backwards), with the span actually covered.
 */
export function windowRatio(history: readonly CacheSample[], kind: CacheKind, spanMs = windowMs): {ratio?: number; seconds?: number} {
	const newest = history[history.length - 1];
	if (!newest) return {};
	let start = history.length - 1;
	while (start > 0) {
		const older = history[start - 1]!;
		if (older.at < newest.at - spanMs || !delta(history[start]![kind], older[kind])) break;
		start--;
	}
	const oldest = history[start]!;
	if (oldest === newest) return {};
	return {ratio: hitRatio(delta(newest[kind], oldest[kind])), seconds: (newest.at - oldest.at) / 1000};
}

/** One hit ratio per interval between consecutive samples, for the sparkline: the newest `n`, oldest first. */
export function intervalRatios(history: RingBuffer<CacheSample>, kind: CacheKind, n: number): Array<number | undefined> {
	const samples = history.latest(n + 1);
	const out: Array<number | undefined> = [];
	for (let i = 1; i < samples.length; i++) out.push(hitRatio(delta(samples[i]![kind], samples[i - 1]![kind])));
	return out;
}

type JsonTable = {relid: number; schema: string; name: string; hh: number; hr: number; ih: number; ir: number; th: number; tr: number};

type Row = {
	server_time: Date;
	stats_reset: Date | null;
	blks_hit: string | null;
	blks_read: string | null;
	heap_hit: string;
	heap_read: string;
	idx_hit: string;
	idx_read: string;
	tables: JsonTable[] | null;
};

// One statement, so the totals and the per-table rows come from one stats
// snapshot. pg_statio_user_tables' counters read from pg_class directly: the
// views ran a subquery over pg_index for every table and its TOAST table, and
// pg_statio_user_indexes walked the same indexes again for the total. The
// same relations: tables and materialized views outside pg_catalog,
// information_schema and pg_toast; their indexes; their TOAST tables and
// those tables' indexes.
const cacheSql = `
WITH t AS (
	SELECT c.oid AS relid, n.nspname AS schemaname, c.relname, c.reltoastrelid,
		pg_stat_get_blocks_hit(c.oid) AS heap_blks_hit, pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid) AS heap_blks_read
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 't', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
), x AS (
	SELECT i.indrelid, sum(pg_stat_get_blocks_hit(i.indexrelid)) AS hit,
		sum(pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid)) AS read
	FROM pg_index i WHERE i.indrelid IN (SELECT relid FROM t UNION ALL SELECT reltoastrelid FROM t WHERE reltoastrelid <> 0)
	GROUP BY i.indrelid
), r AS (
	SELECT t.relid, t.schemaname, t.relname, t.heap_blks_hit, t.heap_blks_read,
		coalesce(xi.hit, 0) AS idx_blks_hit, coalesce(xi.read, 0) AS idx_blks_read,
		CASE WHEN t.reltoastrelid <> 0 THEN pg_stat_get_blocks_hit(t.reltoastrelid) + coalesce(xt.hit, 0) ELSE 0 END AS toast_blks_hit,
		CASE WHEN t.reltoastrelid <> 0 THEN pg_stat_get_blocks_fetched(t.reltoastrelid) - pg_stat_get_blocks_hit(t.reltoastrelid) + coalesce(xt.read, 0) ELSE 0 END AS toast_blks_read
	FROM t LEFT JOIN x xi ON xi.indrelid = t.relid LEFT JOIN x xt ON xt.indrelid = t.reltoastrelid
)
SELECT now() AS server_time, d.stats_reset, d.blks_hit, d.blks_read,
	coalesce(sum(r.heap_blks_hit), 0) AS heap_hit, coalesce(sum(r.heap_blks_read), 0) AS heap_read,
	coalesce(sum(r.idx_blks_hit), 0) AS idx_hit, coalesce(sum(r.idx_blks_read), 0) AS idx_read,
	json_agg(json_build_object('relid', r.relid, 'schema', r.schemaname, 'name', r.relname,
		'hh', r.heap_blks_hit, 'hr', r.heap_blks_read, 'ih', r.idx_blks_hit, 'ir', r.idx_blks_read, 'th', r.toast_blks_hit, 'tr', r.toast_blks_read))
		FILTER (WHERE r.relid IS NOT NULL) AS tables
FROM pg_stat_database d LEFT JOIN r ON true
WHERE d.datname = current_database()
GROUP BY d.stats_reset, d.blks_hit, d.blks_read`;

const hr = (hit: unknown, read: unknown): HitRead => ({hit: Number(hit ?? 0), read: Number(read ?? 0)});

function reads(t: {heap?: HitRead; index?: HitRead; toast?: HitRead}): number {
	return (t.heap?.read ?? 0) + (t.index?.read ?? 0) + (t.toast?.read ?? 0);
}

function tableRows(tables: TableCache[], previous: CacheData | undefined): TableCacheRow[] {
	const before = new Map(previous?.tables.map(t => [t.relid, t]));
	const zero: HitRead = {hit: 0, read: 0};
	const rows = tables.map((t): TableCacheRow => {
		if (!previous) return t;
		// a table created during the interval started from zero
		const old = before.get(t.relid) ?? {heap: zero, index: zero, toast: zero};
		const heap = delta(t.heap, old.heap);
		const index = delta(t.index, old.index);
		const toast = delta(t.toast, old.toast);
		if (!heap || !index || !toast) return t;
		return {...t, intervalReads: reads({heap, index, toast}), intervalHeap: heap, intervalIndex: index};
	});
	return rows.sort((a, b) => (b.intervalReads ?? -1) - (a.intervalReads ?? -1) || reads(b) - reads(a) || a.name.localeCompare(b.name));
}

export const loadCache: Loader<CacheData> = async (ctx, previous) => {
	const r = await ctx.db.query<Row>(cacheSql);
	const row = r.rows[0];
	if (!row) throw new Error('this database is missing from pg_stat_database');
	const sample: CacheSample = {
		at: new Date(row.server_time).getTime(),
		database: hr(row.blks_hit, row.blks_read),
		heap: hr(row.heap_hit, row.heap_read),
		index: hr(row.idx_hit, row.idx_read),
	};
	const tables = (row.tables ?? []).map(
		(t): TableCache => ({relid: t.relid, schema: t.schema, name: t.name, heap: hr(t.hh, t.hr), index: hr(t.ih, t.ir), toast: hr(t.th, t.tr)}),
	);
	const history = RingBuffer.from(previous?.history, historyCapacity).push(sample);
	const before = previous?.sample;
	const seconds = before ? (sample.at - before.at) / 1000 : undefined;
	const ratios = Object.fromEntries(
		cacheKinds.map(kind => {
			const w = windowRatio(history.toArray(), kind);
			const ratio: Ratios = {cumulative: hitRatio(sample[kind]), interval: hitRatio(delta(sample[kind], before?.[kind])), window: w.ratio, windowSeconds: w.seconds};
			return [kind, ratio];
		}),
	) as Record<CacheKind, Ratios>;
	return {
		sample,
		statsReset: row.stats_reset ? new Date(row.stats_reset).getTime() : null,
		history,
		ratios,
		intervalSeconds: seconds !== undefined && seconds > 0 ? seconds : undefined,
		tables: tableRows(tables, previous),
	};
};
