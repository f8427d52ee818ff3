import type {Loader} from '../store/poller.js';

export type OverviewSample = {
	/** server clock, for rates that do not drift with the client's */
	serverTime: number;
	clientConnections: number;
	active: number;
	idleInTransaction: number;
	/** sessions whose state this role cannot see (no pg_monitor) */
	unknownState: number;
	waitingOnLocks: number;
	maxConnections: number;
	reserved: number;
	blksHit: number;
	blksRead: number;
	xacts: number;
	databaseSize: number;
	/** client clock (ms) when databaseSize was read */
	databaseSizeAt: number;
	longest?: {pid: number; user: string | null; application: string | null; ms: number; query: string | null};
};

export type Overview = OverviewSample & {
	/** cumulative since the stats reset: the runbook's sum(blks_hit) / (sum(blks_hit) + sum(blks_read)) */
	cacheHitRatio?: number;
	/** over the last refresh interval */
	cacheHitRatioInterval?: number;
	transactionsPerSecond?: number;
};

type Row = {
	server_time: Date;
	client_connections: string;
	active: string;
	idle_in_tx: string;
	unknown_state: string;
	waiting: string;
	max_connections: string;
	reserved: string;
	blks_hit: string | null;
	blks_read: string | null;
	xacts: string | null;
	db_size: string | null;
	longest: {pid: number; usename: string | null; application_name: string | null; ms: number; query: string | null} | null;
};

/**
 * pg_stat_activity in one pass (building its rows is most of the cost; the
 * CTE read five times copied them as often), the longest query's row fetched
 * alone by its pid from the same snapshot.
 */
export const overviewSql = `
WITH c AS (
	SELECT count(*) FILTER (WHERE is_client) AS client_connections,
		count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active') AS active,
		count(*) FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')) AS idle_in_tx,
		count(*) FILTER (WHERE is_client AND state IS NULL) AS unknown_state,
		count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
		(array_agg(pid ORDER BY query_start) FILTER (WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()))[1] AS longest_pid
	FROM (
		SELECT pid, state, backend_type, query_start, wait_event_type
			-- Without pg_monitor, other roles' rows come with backend_type NULL, but a database
			-- name still tells a client session from a background process.
			, backend_type = 'client backend' OR (backend_type IS NULL AND datname IS NOT NULL) AS is_client
		FROM pg_stat_activity
	) a
), db AS (
	SELECT blks_hit, blks_read, xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = current_database()
)
SELECT now() AS server_time, c.client_connections, c.active, c.idle_in_tx, c.unknown_state, c.waiting,
	current_setting('max_connections') AS max_connections,
	(current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0))::text AS reserved,
	(SELECT blks_hit FROM db) AS blks_hit,
	(SELECT blks_read FROM db) AS blks_read,
	(SELECT xacts FROM db) AS xacts,
	CASE WHEN $1::boolean THEN pg_database_size(current_database()) END AS db_size,
	(SELECT row_to_json(l) FROM (
		SELECT s.pid, (SELECT rolname FROM pg_roles WHERE oid = s.usesysid) AS usename, s.application_name,
			extract(epoch FROM now() - s.query_start) * 1000 AS ms, left(s.query, 2000) AS query
		FROM pg_stat_get_activity(c.longest_pid) s WHERE c.longest_pid IS NOT NULL) l) AS longest
FROM c`;

/**
 * pg_database_size stats every file of the database: a third of this
 * statement's time, for a figure that moves slowly. Read every 30 s.
 */
export const databaseSizeEveryMs = 30_000;

const ratio = (hit: number, read: number) => (hit + read > 0 ? hit / (hit + read) : undefined);

export const loadOverview: Loader<Overview> = async (ctx, previous) => {
	const sizeDue = !previous || Date.now() - previous.databaseSizeAt >= databaseSizeEveryMs;
	const r = await ctx.db.query<Row>(overviewSql, [sizeDue]);
	const row = r.rows[0]!;
	const serverTime = new Date(row.server_time).getTime();
	const sample: OverviewSample = {
		serverTime,
		clientConnections: Number(row.client_connections),
		active: Number(row.active),
		idleInTransaction: Number(row.idle_in_tx),
		unknownState: Number(row.unknown_state),
		waitingOnLocks: Number(row.waiting),
		maxConnections: Number(row.max_connections),
		reserved: Number(row.reserved),
		blksHit: Number(row.blks_hit ?? 0),
		blksRead: Number(row.blks_read ?? 0),
		xacts: Number(row.xacts ?? 0),
		databaseSize: row.db_size === null ? (previous?.databaseSize ?? 0) : Number(row.db_size),
		databaseSizeAt: row.db_size === null ? (previous?.databaseSizeAt ?? 0) : Date.now(),
		longest: row.longest
			? {pid: row.longest.pid, user: row.longest.usename, application: row.longest.application_name, ms: row.longest.ms, query: row.longest.query}
			: undefined,
	};
	const out: Overview = {...sample, cacheHitRatio: ratio(sample.blksHit, sample.blksRead)};
	if (previous) {
		const seconds = (sample.serverTime - previous.serverTime) / 1000;
		// a stats reset or a new server makes counters go backwards: no rate for that interval
		if (seconds > 0 && sample.xacts >= previous.xacts && sample.blksHit >= previous.blksHit) {
			out.transactionsPerSecond = (sample.xacts - previous.xacts) / seconds;
			out.cacheHitRatioInterval = ratio(sample.blksHit - previous.blksHit, sample.blksRead - previous.blksRead);
		}
	}
	return out;
};
