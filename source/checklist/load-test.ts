import path from 'node:path';
import {performance} from 'node:perf_hooks';
import pg from 'pg';
import {audit, type AuditContext} from '../audit.js';
import {appQueries, type AppQueryId} from '../db/app-queries.js';
import {pgConfig, type Target} from '../db/dsn.js';
import type {Queryable} from '../db/monitor.js';
import {CliError, ExitCode, errorText} from '../errors.js';
import {formatDuration, formatMs, formatNumber} from '../format.js';
import {sanitize} from '../sanitize.js';
import {readJson, targetStateDir, writeJson, type TargetKey} from '../state.js';
import type {ChecklistOptions, Verdict} from './items.js';
import {percentile} from './latency.js';
import {queryContext} from './plans.js';
import type {SignOff} from './store.js';

export const loadTestApplicationName = 'intowork-db/loadtest';

/** The app's read traffic: searches and candidates' own lists dominate, recruiters' views follow. */
const mix: ReadonlyArray<[AppQueryId, number]> = [
	['job_list', 35],
	['application_list', 35],
	['employer_applications', 10],
	['dashboard', 10],
	['notifications', 10],
];

export type LoadTestOptions = {
	clients: number;
	durationMs: number;
	/** per statement, on each client's own session */
	statementTimeoutMs?: number;
	/** once the headroom check passed, before any session opens */
	onStart?(headroom: Headroom): void;
	onProgress?(progress: LoadTestProgress): void;
	/** each client's backend pid, once it has connected: the console's own sessions */
	onPid?(pid: number): void;
	signal?: AbortSignal;
};

export type LoadTestProgress = {elapsedMs: number; durationMs: number; connected: number; queries: number; errors: number};

export type QueryStats = {count: number; errors: number; p50: number; p95: number; max: number; targetMs?: number};

export type LoadTestResult = {
	startedAt: string;
	finishedAt: string;
	clients: number;
	/** clients that got a connection */
	connected: number;
	plannedDurationMs: number;
	durationMs: number;
	aborted: boolean;
	queries: number;
	errors: number;
	/** distinct error messages, the first few */
	errorSamples: string[];
	qps: number;
	p50: number;
	p95: number;
	max: number;
	perQuery: Partial<Record<AppQueryId, QueryStats>>;
	/** client connections on the whole server at the busiest sample, and the test's own */
	peakConnections: number;
	peakOwn: number;
	maxConnections: number;
};

export type Headroom = {
	clients: number;
	maxConnections: number;
	reserved: number;
	inUse: number;
	free: number;
	/** slots that must stay free for the app and operators */
	margin: number;
	enough: boolean;
	/** why not, in one line */
	reason?: string;
};

const headroomSql = `
SELECT current_setting('max_connections')::int AS max_connections,
	current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
	(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use,
	(SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) AS role_limit,
	(SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND backend_type = 'client backend')::int AS role_in_use,
	(SELECT datconnlimit FROM pg_database WHERE datname = current_database()) AS db_limit,
	(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend')::int AS db_in_use`;

const peakSql = `SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS total,
	count(*) FILTER (WHERE application_name = $1)::int AS own
FROM pg_stat_activity`;

/**
 * Whether the server can take `clients` more connections and still leave a
 * margin (10% of the usable slots, at least 5) for the app's pool growing
 * and an operator logging in to stop things. Role and database connection
 * limits count too.
 */
export async function loadTestHeadroom(db: Queryable, clients: number): Promise<Headroom> {
	const r = await db.query<{max_connections: number; reserved: number; in_use: number; role_limit: number; role_in_use: number; db_limit: number; db_in_use: number}>(headroomSql);
	const row = r.rows[0]!;
	const usable = row.max_connections - row.reserved;
	const free = usable - row.in_use;
	const margin = Math.max(5, Math.ceil(usable * 0.1));
	const base = {clients, maxConnections: row.max_connections, reserved: row.reserved, inUse: row.in_use, free, margin};
	if (clients + margin > free) {
		return {
			...base,
			enough: false,
			reason: `${clients} clients need ${clients} connections and ${margin} must stay free, but only ${free} of ${usable} usable are free (max_connections ${row.max_connections}, ${row.reserved} reserved, ${row.in_use} in use): lower the clients or run it off-peak`,
		};
	}
	if (row.role_limit >= 0 && row.role_in_use + clients > row.role_limit) {
		return {...base, enough: false, reason: `this role may open ${row.role_limit} connections (rolconnlimit) and has ${row.role_in_use}: not enough for ${clients} clients`};
	}
	if (row.db_limit >= 0 && row.db_in_use + clients > row.db_limit) {
		return {...base, enough: false, reason: `this database takes ${row.db_limit} connections (datconnlimit) and has ${row.db_in_use}: not enough for ${clients} clients`};
	}
	return {...base, enough: true};
}

/** Each client's session: read-only on the server, so not even a bug here could write. */
export function loadTestConfig(target: Target, statementTimeoutMs: number): pg.ClientConfig {
	const config = pgConfig(target, {applicationName: loadTestApplicationName, connectTimeoutMs: 10_000, statementTimeoutMs});
	config.options = [config.options, '-c default_transaction_read_only=on'].filter(Boolean).join(' ');
	return config;
}

function pick(random: number): AppQueryId {
	const total = mix.reduce((n, [, w]) => n + w, 0);
	let x = random * total;
	for (const [id, weight] of mix) {
		x -= weight;
		if (x < 0) return id;
	}
	return mix[0]![0];
}

// reduce, not Math.max(...times): a minute of 100 clients is more samples than a call may have arguments
const maxOf = (times: readonly number[]) => (times.length ? times.reduce((m, t) => Math.max(m, t), 0) : Number.NaN);

function stats(times: readonly number[], errors: number, targetMs?: number): QueryStats {
	return {count: times.length, errors, p50: percentile(times, 50), p95: percentile(times, 95), max: maxOf(times), ...(targetMs ? {targetMs} : {})};
}

/**
 * The built-in load test: `clients` sessions of their own, each read-only on
 * the server, running the app's read queries back to back for the duration:
 * every client has a query in flight all the time, harsher than as many
 * users with think time. Refuses to start without connection headroom.
 */
export async function runLoadTest(target: Target, db: Queryable, options: LoadTestOptions): Promise<LoadTestResult> {
	const headroom = await loadTestHeadroom(db, options.clients);
	if (!headroom.enough) throw new CliError(`refusing the load test: ${headroom.reason}`, ExitCode.failed);
	options.onStart?.(headroom);
	const ctx = await queryContext(db);
	const config = loadTestConfig(target, options.statementTimeoutMs ?? 10_000);

	const startedAt = new Date().toISOString();
	const clients = Array.from({length: options.clients}, () => {
		const client = new pg.Client(config);
		client.on('error', () => undefined);
		return client;
	});
	const times = new Map<AppQueryId, number[]>(mix.map(([id]) => [id, []]));
	const errorsBy = new Map<AppQueryId, number>();
	const errorSamples = new Set<string>();
	let errors = 0;
	let queries = 0;
	const fail = (error: unknown) => {
		errors++;
		if (errorSamples.size < 5) errorSamples.add(sanitize(errorText(error), 200));
	};

	let peakConnections = 0;
	let peakOwn = 0;
	let sampling = true;
	const sampler = (async () => {
		while (sampling) {
			const r = await db.query<{total: number; own: number}>(peakSql, [loadTestApplicationName]).catch(() => undefined);
			if (r) {
				peakConnections = Math.max(peakConnections, r.rows[0]!.total);
				peakOwn = Math.max(peakOwn, r.rows[0]!.own);
			}
			await new Promise(resolve => setTimeout(resolve, 200));
		}
	})();

	try {
		const connects = await Promise.allSettled(
			clients.map(async c => {
				await c.connect();
				// the server's pid, also through a pooler (whose BackendKeyData names its own)
				if (options.onPid) options.onPid((await c.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
			}),
		);
		for (const c of connects) if (c.status === 'rejected') fail(c.reason);
		const connected = clients.filter((_, i) => connects[i]!.status === 'fulfilled');
		const started = performance.now();
		const deadline = started + options.durationMs;
		const progress = () =>
			options.onProgress?.({elapsedMs: Math.min(options.durationMs, performance.now() - started), durationMs: options.durationMs, connected: connected.length, queries, errors});
		const ticker = setInterval(progress, 500);
		const stopped = () => performance.now() >= deadline || options.signal?.aborted === true;
		const worker = async (client: pg.Client) => {
			while (!stopped()) {
				const id = pick(Math.random());
				const query = appQueries[id];
				const t0 = performance.now();
				try {
					await client.query(query.sql, query.params(ctx, Math.random));
					times.get(id)!.push(performance.now() - t0);
					queries++;
				} catch (error) {
					errorsBy.set(id, (errorsBy.get(id) ?? 0) + 1);
					fail(error);
				}
			}
		};
		try {
			await Promise.all(connected.map(worker));
		} finally {
			clearInterval(ticker);
		}
		progress();
		const durationMs = performance.now() - started;
		const all = [...times.values()].flat();
		const perQuery = Object.fromEntries(mix.map(([id]) => [id, stats(times.get(id)!, errorsBy.get(id) ?? 0, appQueries[id].targetMs)]));
		return {
			startedAt,
			finishedAt: new Date().toISOString(),
			clients: options.clients,
			connected: connected.length,
			plannedDurationMs: options.durationMs,
			durationMs,
			aborted: options.signal?.aborted === true,
			queries,
			errors,
			errorSamples: [...errorSamples],
			qps: durationMs > 0 ? queries / (durationMs / 1000) : 0,
			p50: percentile(all, 50),
			p95: percentile(all, 95),
			max: maxOf(all),
			perQuery,
			peakConnections,
			peakOwn,
			maxConnections: headroom.maxConnections,
		};
	} finally {
		sampling = false;
		await sampler;
		await Promise.all(clients.map(c => c.end().catch(() => undefined)));
	}
}

const loadTestFile = (key: TargetKey, env: NodeJS.ProcessEnv) => path.join(targetStateDir(key, env), 'checklist-load-test.json');

export function readLoadTest(key: TargetKey, env: NodeJS.ProcessEnv = process.env): LoadTestResult | undefined {
	return readJson<LoadTestResult | undefined>(loadTestFile(key, env), undefined);
}

/** The last result is what `check` and the screen show until the next run. */
export function saveLoadTest(ctx: AuditContext, result: LoadTestResult, env: NodeJS.ProcessEnv = process.env): void {
	writeJson(loadTestFile(ctx.key, env), result);
	audit(ctx, {action: 'checklist.load-test', result: summary(result), detail: {clients: result.clients, durationMs: Math.round(result.durationMs), queries: result.queries, errors: result.errors, p95: result.p95, peakConnections: result.peakConnections}}, env);
}

export function summary(r: LoadTestResult): string {
	const errors = r.errors ? `${formatNumber(r.errors)} errors` : 'no errors';
	return `${r.connected}/${r.clients} clients for ${formatDuration(r.durationMs)}${r.aborted ? ' (stopped early)' : ''}: ${formatNumber(r.queries)} queries (${r.qps.toFixed(0)}/s), p95 ${formatMs(r.p95)}, ${errors}, peak ${r.peakConnections} connections of ${r.maxConnections}`;
}

export function judgeLoadTest(result: LoadTestResult | undefined, sign: SignOff | undefined, options: ChecklistOptions, now = Date.now()): {verdict: Verdict; evidence: string[]} {
	const evidence: string[] = [];
	let problems: string[] = [];
	if (result) {
		evidence.push(`last run ${formatDuration(now - new Date(result.finishedAt).getTime())} ago: ${summary(result)}`);
		const jobList = result.perQuery.job_list;
		if (jobList?.count) evidence.push(`  job_list under load: p95 ${formatMs(jobList.p95)} (target ${jobList.targetMs} ms)`);
		if (result.errorSamples.length) evidence.push(`  first error: ${result.errorSamples[0]}`);
		problems = [
			result.connected < options.loadTestMinClients && `${result.connected} concurrent clients, fewer than ${options.loadTestMinClients}`,
			result.durationMs < options.loadTestMinDurationMs && `ran ${formatDuration(result.durationMs)}, less than ${formatDuration(options.loadTestMinDurationMs)}`,
			result.errors > 0 && `${result.errors} errors`,
			jobList?.targetMs !== undefined && jobList.p95 > jobList.targetMs && 'job_list p95 over its target under load',
		].filter((p): p is string => typeof p === 'string');
		if (problems.length) evidence.push(`does not count: ${problems.join('; ')}`);
	} else evidence.push('no built-in load test has been run against this database');
	if (result && problems.length === 0) return {verdict: 'pass', evidence};
	if (sign) return {verdict: 'signed-off', evidence: [signOffLine(sign, now), ...evidence]};
	return {verdict: result ? 'fail' : 'unknown', evidence};
}

export function signOffLine(sign: SignOff, now = Date.now()): string {
	return `signed off by ${sign.by}${sign.by === sign.osUser ? '' : ` (as ${sign.osUser})`} ${formatDuration(now - new Date(sign.at).getTime())} ago${sign.note ? `: ${sanitize(sign.note, 200)}` : ''}`;
}
