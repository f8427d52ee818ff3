import {appQueries, type AppQueryId} from './app-queries.js';
import type {Capabilities} from './capabilities.js';
import type {HitRead} from './cache.js';
import type {Target} from './dsn.js';
import type {Queryable} from './monitor.js';
import {quoteIdent} from './sql.js';
import {isEncodingError, throughSqlAscii} from './statements.js';

/**
 * What the background sampler reads from the primary on every refresh,
 * whatever screen is open: the few numbers that windows ("last 5 minutes")
 * and alerts need, in one statement.
 */
export type PrimarySample = {
	/** server clock (ms) */
	at: number;
	/** pg_stat_database, pg_statio_user_tables: the Cache screen's three kinds */
	database: HitRead;
	heap: HitRead;
	index: HitRead;
	/** xact_commit + xact_rollback of this database */
	xacts: number;
	/** client sessions on the whole server, and the slots they may take (max_connections minus reserved) */
	clients: number;
	usable: number;
	/** this database's sessions past the hanging thresholds */
	hangingActive: number;
	hangingIdleTx: number;
	/** this database's sessions waiting on a lock longer than the alert's threshold, and the longest wait */
	lockWaits: number;
	longestLockWaitMs: number | null;
	/** inactive replication slots and the WAL each keeps on the primary's disk */
	inactiveSlots: Array<{name: string; retainedBytes: number | null}>;
	/** pg_stat_replication: each standby's replay lag as the primary measures it */
	standbys: Array<{name: string; client: string | null; replayLagMs: number | null}>;
};

type Row = {
	server_time: Date;
	blks_hit: string | null;
	blks_read: string | null;
	xacts: string | null;
	heap_hit: string;
	heap_read: string;
	idx_hit: string;
	idx_read: string;
	clients: string;
	usable: string;
	hanging_active: string;
	hanging_idle_tx: string;
	lock_waits: string;
	longest_lock_ms: number | null;
	slots: Array<{name: string; retained: number | null}> | null;
	standbys: Array<{name: string; client: string | null; lag_ms: number | null}> | null;
};

const ms = (expr: string) => `extract(epoch FROM now() - ${expr}) * 1000`;

/**
 * The heap and index block counters of pg_statio_user_tables, summed straight
 * from pg_class: the view's per-table subqueries over pg_index and its TOAST
 * joins were a third of this statement's time, for two sums. The same
 * relations: tables and materialized views outside pg_catalog,
 * information_schema and pg_toast, and their indexes (an index lives in its
 * table's schema).
 */
export const userBlocksSql = `SELECT coalesce(sum(pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind <> 'i'), 0) AS heap_hit,
		coalesce(sum(pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind <> 'i'), 0) AS heap_read,
		coalesce(sum(pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind = 'i'), 0) AS idx_hit,
		coalesce(sum(pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind = 'i'), 0) AS idx_read
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'm', 'i') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`;

/**
 * $1 hanging active ms, $2 hanging idle-in-transaction ms, $3 lock wait ms. Version-aware: pg_locks.waitstart is 14+.
 * pg_stat_activity is read once, in one pass (each read builds every backend's row); standbys from
 * pg_stat_get_wal_senders() with only their own activity rows, where pg_stat_replication reads every backend's.
 */
export function primarySampleSql(major: number): string {
	const waitStart = major >= 14 ? 'coalesce((SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = h.pid AND NOT l.granted), h.state_change)' : 'h.state_change';
	return `
WITH here AS (
	SELECT h.*, CASE WHEN h.here AND h.wait_event_type = 'Lock' THEN ${ms(waitStart)} END AS wait_ms
	FROM (SELECT pid, state, wait_event_type, query_start, state_change, is_client,
			is_client AND datname = current_database() AND pid <> pg_backend_pid() AS here
		FROM (SELECT *, backend_type = 'client backend' OR (backend_type IS NULL AND datname IS NOT NULL) AS is_client FROM pg_stat_activity) a) h
), act AS (
	SELECT count(*) FILTER (WHERE is_client) AS clients,
		count(*) FILTER (WHERE here AND state = 'active' AND query_start < now() - $1 * interval '1 ms') AS hanging_active,
		count(*) FILTER (WHERE here AND state LIKE 'idle in transaction%' AND state_change < now() - $2 * interval '1 ms') AS hanging_idle_tx,
		count(*) FILTER (WHERE wait_ms > $3) AS lock_waits,
		max(wait_ms) AS longest_lock_ms
	FROM here
), io AS (${userBlocksSql})
SELECT now() AS server_time, d.blks_hit, d.blks_read, d.xact_commit + d.xact_rollback AS xacts,
	io.heap_hit, io.heap_read, io.idx_hit, io.idx_read,
	act.clients,
	current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
		- coalesce(current_setting('reserved_connections', true)::int, 0) AS usable,
	act.hanging_active, act.hanging_idle_tx, act.lock_waits, act.longest_lock_ms,
	(SELECT json_agg(json_build_object('name', slot_name,
		'retained', pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)))
		FROM pg_replication_slots WHERE NOT active) AS slots,
	(SELECT json_agg(json_build_object('name', a.application_name, 'client', host(a.client_addr),
		'lag_ms', extract(epoch FROM w.replay_lag) * 1000)) FROM pg_stat_get_wal_senders() w CROSS JOIN LATERAL pg_stat_get_activity(w.pid) a) AS standbys
FROM pg_stat_database d CROSS JOIN io CROSS JOIN act
WHERE d.datname = current_database()`;
}

export async function samplePrimary(db: Queryable, caps: Capabilities, limits: {hangingActiveMs: number; hangingIdleTxMs: number; lockWaitMs: number}): Promise<PrimarySample> {
	const r = await db.query<Row>(primarySampleSql(caps.major), [limits.hangingActiveMs, limits.hangingIdleTxMs, limits.lockWaitMs]);
	const row = r.rows[0];
	if (!row) throw new Error('this database is missing from pg_stat_database');
	const hr = (hit: unknown, read: unknown): HitRead => ({hit: Number(hit ?? 0), read: Number(read ?? 0)});
	return {
		at: new Date(row.server_time).getTime(),
		database: hr(row.blks_hit, row.blks_read),
		heap: hr(row.heap_hit, row.heap_read),
		index: hr(row.idx_hit, row.idx_read),
		xacts: Number(row.xacts ?? 0),
		clients: Number(row.clients),
		usable: Number(row.usable),
		hangingActive: Number(row.hanging_active),
		hangingIdleTx: Number(row.hanging_idle_tx),
		lockWaits: Number(row.lock_waits),
		longestLockWaitMs: row.longest_lock_ms === null ? null : Number(row.longest_lock_ms),
		inactiveSlots: (row.slots ?? []).map(s => ({name: s.name, retainedBytes: s.retained === null ? null : Number(s.retained)})),
		standbys: (row.standbys ?? []).map(s => ({name: s.name, client: s.client, replayLagMs: s.lag_ms === null ? null : Number(s.lag_ms)})),
	};
}

/** Cumulative counters of the statements the alerts recognise; interval figures come from two of these. */
export type LatencyCounters = {
	at: number;
	queries: Partial<Record<AppQueryId, {calls: number; totalMs: number; sumSquares: number}>>;
};

export type IntervalLatency = {calls: number; meanMs: number; stddevMs: number; /** mean + 1.645 sd: the p95 of a normal distribution with these moments */ p95Ms: number};

/** The plan's queries the alerts hold to a p95, recognised by their text. */
export const watchedQueries: readonly AppQueryId[] = ['job_list', 'application_list'];

/**
 * pg_stat_statements replaces constants with $n (LIMIT 20 becomes LIMIT $2):
 * whitespace collapsed and every parameter or number a ?, on both sides.
 */
export const fingerprint = (sql: string) =>
	sql
		.replace(/\s+/g, ' ')
		.trim()
		.replace(/\$\d+/g, '?')
		.replace(/\b\d+\b/g, '?');
const fingerprintSql = (col: string) => `regexp_replace(regexp_replace(btrim(regexp_replace(${col}, '\\s+', ' ', 'g')), '\\$\\d+', '?', 'g'), '\\m\\d+\\M', '?', 'g')`;

const execPrefix = (extensionVersion: string) => {
	const [major = 0, minor = 0] = extensionVersion.split('.').map(Number);
	// 1.8 (PostgreSQL 13) split planning from execution: total_time became total_exec_time
	return major > 1 || (major === 1 && minor >= 8) ? 'exec_' : '';
};

/**
 * Which entries are the watched queries: recognised by their text, so every
 * entry's text is read and fingerprinted on the server (tens of ms with a
 * few hundred entries). Done now and then; the counters are then read by
 * queryid without the texts. $2: the dbid to look in (null: this database's),
 * for when it runs through a SQL_ASCII database.
 */
export function latencyEntriesSql(schema: string): string {
	return `SELECT DISTINCT s.queryid::text AS queryid, ${fingerprintSql('s.query')} AS query
FROM ${quoteIdent(schema)}.pg_stat_statements(true) s
WHERE s.dbid = coalesce($2::oid, (SELECT oid FROM pg_database WHERE datname = current_database()))
	AND ${fingerprintSql('s.query')} = ANY ($1::text[])`;
}

/**
 * pg_stat_statements keeps calls, total and a population standard deviation
 * per entry; calls x (sd² + mean²) is the sum of squares, which adds up across
 * entries (roles, top level or not) and subtracts across samples.
 */
export function latencySql(extensionVersion: string, schema: string): string {
	const exec = execPrefix(extensionVersion);
	return `SELECT s.queryid::text AS queryid, now() AS server_time,
	sum(s.calls) AS calls, sum(s.total_${exec}time) AS total_ms,
	sum(s.calls * (power(s.stddev_${exec}time, 2) + power(s.mean_${exec}time, 2))) AS sum_squares
FROM ${quoteIdent(schema)}.pg_stat_statements(false) s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND s.queryid = ANY ($1::bigint[])
GROUP BY 1`;
}

/** queryid (as text) → the watched query it is */
export type LatencyEntries = Map<string, AppQueryId>;

type EntryRow = {queryid: string; query: string};

/**
 * When this database cannot convert every text on the server (a SQL_ASCII
 * statement with bytes not valid here), the same statement runs in a
 * SQL_ASCII database for this one's dbid, as the Queries screen reads its
 * texts: only the plan's own ASCII texts come back.
 */
export async function findLatencyEntries(db: Queryable, schema: string, target?: Target): Promise<LatencyEntries> {
	const texts = new Map(watchedQueries.map(id => [fingerprint(appQueries[id].sql), id]));
	let rows: EntryRow[];
	try {
		rows = (await db.query<EntryRow>(latencyEntriesSql(schema), [[...texts.keys()], null])).rows;
	} catch (error) {
		if (!isEncodingError(error)) throw error;
		const dbid = (await db.query<{oid: number}>('SELECT oid FROM pg_database WHERE datname = current_database()')).rows[0]?.oid;
		const through = await throughSqlAscii(db, target, async (via, viaSchema) => (await via.query<EntryRow>(latencyEntriesSql(viaSchema), [[...texts.keys()], dbid])).rows);
		if ('error' in through) throw error;
		rows = through.value;
	}
	return new Map(rows.flatMap(row => {
		const id = texts.get(row.query);
		return id ? [[row.queryid, id] as const] : [];
	}));
}

export async function sampleLatency(db: Queryable, extensionVersion: string, schema: string, entries: LatencyEntries): Promise<LatencyCounters> {
	const out: LatencyCounters = {at: Date.now(), queries: {}};
	if (entries.size === 0) return out;
	const r = await db.query<{queryid: string; server_time: Date; calls: string; total_ms: number; sum_squares: number}>(latencySql(extensionVersion, schema), [[...entries.keys()]]);
	for (const row of r.rows) {
		out.at = new Date(row.server_time).getTime();
		const id = entries.get(row.queryid);
		if (!id) continue;
		const q = (out.queries[id] ??= {calls: 0, totalMs: 0, sumSquares: 0});
		q.calls += Number(row.calls);
		q.totalMs += Number(row.total_ms);
		q.sumSquares += Number(row.sum_squares);
	}
	return out;
}

/** The interval between two samples; undefined when nothing ran or the counters went backwards (a reset). */
export function intervalLatency(newer: LatencyCounters, older: LatencyCounters | undefined, id: AppQueryId): IntervalLatency | undefined {
	const a = newer.queries[id];
	const b = older?.queries[id] ?? (older ? {calls: 0, totalMs: 0, sumSquares: 0} : undefined);
	if (!a || !b) return undefined;
	const calls = a.calls - b.calls;
	if (calls <= 0) return undefined;
	const meanMs = (a.totalMs - b.totalMs) / calls;
	const variance = Math.max(0, (a.sumSquares - b.sumSquares) / calls - meanMs ** 2);
	const stddevMs = Math.sqrt(variance);
	return {calls, meanMs, stddevMs, p95Ms: meanMs + 1.645 * stddevMs};
}

