import type {Queryable} from './monitor.js';

/** One pool (database + user) from SHOW POOLS. */
export type Pool = {
	database: string;
	user: string;
	clActive: number;
	/** clients queued for a server connection: the incident signal */
	clWaiting: number;
	svActive: number;
	svIdle: number;
	svUsed: number;
	/** how long the oldest waiting client has waited (s) */
	maxwaitSeconds: number;
	poolMode: string | null;
};

export type BouncerStats = {
	database: string;
	/** cumulative counters; rates come from two samples */
	totalXacts: number;
	totalQueries: number;
	totalXactTimeUs: number;
	totalQueryTimeUs: number;
	totalWaitTimeUs: number;
	/** pgBouncer's own averages over its last stats period (µs) */
	avgXactTimeUs: number;
	avgQueryTimeUs: number;
};

export type BouncerSample = {
	at: number;
	pools: Pool[];
	waiting: number;
	maxwaitSeconds: number;
	/** (address, port) of each server connection as Postgres sees its client: marks its sessions on Connections */
	servers: Array<{database: string; user: string; state: string; localAddr: string | null; localPort: number | null}>;
	/** only while the pgBouncer screen is open: the rest of the admin console */
	detail?: {
		stats: BouncerStats[];
		clients: number;
		config: {defaultPoolSize: number; maxClientConn: number; poolMode: string; reservePoolSize: number; maxDbConnections: number};
		/** per-second rates since the previous detailed sample */
		rates?: Record<string, {xactsPerSecond: number; queriesPerSecond: number; avgXactMs: number | null; avgQueryMs: number | null; avgWaitMs: number | null}>;
	};
};

const n = (v: unknown) => (v === null || v === undefined || v === '' ? 0 : Number(v));

// The admin console speaks only the simple query protocol: statements without parameters.
export async function showPools(db: Queryable): Promise<Pool[]> {
	const r = await db.query<Record<string, unknown>>('SHOW POOLS');
	return r.rows
		.filter(p => p.database !== 'pgbouncer')
		.map(p => ({
			database: String(p.database),
			user: String(p.user),
			clActive: n(p.cl_active),
			clWaiting: n(p.cl_waiting),
			svActive: n(p.sv_active),
			svIdle: n(p.sv_idle),
			svUsed: n(p.sv_used),
			maxwaitSeconds: n(p.maxwait) + n(p.maxwait_us) / 1e6,
			poolMode: p.pool_mode === undefined ? null : String(p.pool_mode),
		}));
}

export async function sampleBouncer(db: Queryable, detailed: boolean, previous: BouncerSample | undefined): Promise<BouncerSample> {
	const pools = await showPools(db);
	const servers = (await db.query<Record<string, unknown>>('SHOW SERVERS')).rows.map(s => ({
		database: String(s.database),
		user: String(s.user),
		state: String(s.state),
		localAddr: s.local_addr === null || s.local_addr === undefined ? null : String(s.local_addr),
		localPort: s.local_port === null || s.local_port === undefined ? null : Number(s.local_port),
	}));
	const sample: BouncerSample = {
		at: Date.now(),
		pools,
		waiting: pools.reduce((a, p) => a + p.clWaiting, 0),
		maxwaitSeconds: pools.reduce((a, p) => Math.max(a, p.maxwaitSeconds), 0),
		servers,
	};
	if (!detailed) return sample;
	const stats = (await db.query<Record<string, unknown>>('SHOW STATS')).rows
		.filter(s => s.database !== 'pgbouncer')
		.map(
			(s): BouncerStats => ({
				database: String(s.database),
				totalXacts: n(s.total_xact_count),
				totalQueries: n(s.total_query_count),
				totalXactTimeUs: n(s.total_xact_time),
				totalQueryTimeUs: n(s.total_query_time),
				totalWaitTimeUs: n(s.total_wait_time),
				avgXactTimeUs: n(s.avg_xact_time),
				avgQueryTimeUs: n(s.avg_query_time),
			}),
		);
	const clients = (await db.query('SHOW CLIENTS')).rows.length;
	const settings = new Map((await db.query<{key: string; value: string}>('SHOW CONFIG')).rows.map(c => [c.key, c.value]));
	const config = {
		defaultPoolSize: n(settings.get('default_pool_size')),
		maxClientConn: n(settings.get('max_client_conn')),
		poolMode: settings.get('pool_mode') ?? '?',
		reservePoolSize: n(settings.get('reserve_pool_size')),
		maxDbConnections: n(settings.get('max_db_connections')),
	};
	let rates: NonNullable<BouncerSample['detail']>['rates'];
	const before = previous?.detail;
	if (before && previous && sample.at > previous.at) {
		const seconds = (sample.at - previous.at) / 1000;
		rates = {};
		for (const s of stats) {
			const o = before.stats.find(x => x.database === s.database);
			if (!o || s.totalXacts < o.totalXacts) continue;
			const dx = s.totalXacts - o.totalXacts;
			const dq = s.totalQueries - o.totalQueries;
			rates[s.database] = {
				xactsPerSecond: dx / seconds,
				queriesPerSecond: dq / seconds,
				avgXactMs: dx > 0 ? (s.totalXactTimeUs - o.totalXactTimeUs) / dx / 1000 : null,
				avgQueryMs: dq > 0 ? (s.totalQueryTimeUs - o.totalQueryTimeUs) / dq / 1000 : null,
				avgWaitMs: dx > 0 ? (s.totalWaitTimeUs - o.totalWaitTimeUs) / dx / 1000 : null,
			};
		}
	}
	sample.detail = {stats, clients, config, rates};
	return sample;
}
