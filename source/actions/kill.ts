import pg from 'pg';
import {audit, auditContext, type AuditContext} from '../audit.js';
import {isoMicros, readBackend, relevantAgeMs, stateLabel, type Backend} from '../db/connections.js';
import {pgConfig, type Target} from '../db/dsn.js';
import type {Queryable} from '../db/monitor.js';
import {quoteIdent} from '../db/sql.js';
import {clock, formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';
import {errorText} from '../errors.js';

export type KillMode = 'cancel' | 'terminate';

/** What the user confirmed. The action touches the backend only while it is still exactly this one. */
export type KillTarget = Pick<Backend, 'pid' | 'backendStart' | 'queryStart' | 'user' | 'application' | 'database' | 'state' | 'backendType' | 'query'> & {
	/** running its query, or idle in its transaction, for this long when confirmed */
	ageMs: number | null;
};

export type Protection = {level: 'refuse' | 'confirm'; reason: string};

export type KillResult = 'cancelled' | 'terminated' | 'gone' | 'changed' | 'not-running' | 'denied' | 'refused' | 'failed';

export type KillOutcome = {target: KillTarget; result: KillResult; detail?: string};

/** Results that leave nothing hanging: the session was signalled, or is not the one confirmed any more. */
export const settledResults: ReadonlySet<KillResult> = new Set(['cancelled', 'terminated', 'gone', 'changed']);

/** application_name prefix of the sessions this console opens for its own operations (backups, migrations, kills). */
const consoleOperationPrefix = 'intowork-db/';

export const resultLabels: Record<KillResult, string> = {
	cancelled: 'cancelled',
	terminated: 'terminated',
	gone: 'already gone',
	changed: 'changed, not touched',
	'not-running': 'nothing to cancel',
	denied: 'permission denied',
	refused: 'refused',
	failed: 'failed',
};

export function toKillTarget(b: Backend): KillTarget {
	return {
		pid: b.pid,
		backendStart: b.backendStart,
		queryStart: b.queryStart,
		user: b.user,
		application: b.application,
		database: b.database,
		state: b.state,
		backendType: b.backendType,
		query: b.query,
		ageMs: relevantAgeMs(b),
	};
}

/** A job of this console that opened the session: stopping it goes through the job's own cancel. */
export type OwningJob = {title: string; leaves: string};

export type KillGuards = {
	/** the console's own jobs, by the backend pids they registered (not by application_name: another tool may use it) */
	ownerOf?: (pid: number) => OwningJob | undefined;
	/** several sessions at once (a count dialog, or kill --hanging) */
	several?: boolean;
};

export const isConsoleOperation = (b: Pick<Backend, 'application'>) => b.application.startsWith(consoleOperationPrefix);
// pg_monitor or pg_signal_backend would not help here: no grant lets another role signal a superuser's session.
const superuserOnly = "a superuser's session: only a superuser may cancel or terminate it (connect as a superuser to do it)";

/** Why a backend must not be signalled, or needs an extra confirmation; undefined for an ordinary session. */
export function protection(b: Backend, role: string, guards: KillGuards = {}): Protection | undefined {
	if (b.own) return {level: 'refuse', reason: "this console's own monitoring session"};
	const job = guards.ownerOf?.(b.pid);
	if (job) return {level: 'refuse', reason: `this console's own ${job.title}: stop it with its own cancel (select it alone, or c on its screen)`};
	if (b.hidden && b.superuser) return {level: 'refuse', reason: superuserOnly};
	if (b.hidden)
		return {level: 'refuse', reason: `this role cannot see the session, so cannot check it is still the same one (GRANT pg_monitor TO ${quoteIdent(role)};)`};
	if (b.backendType === 'parallel worker')
		return {level: 'refuse', reason: b.leaderPid ? `a parallel worker of pid ${b.leaderPid}: act on that session instead` : 'a parallel worker: act on its leader instead'};
	if (b.backendType === 'walsender') return {level: 'confirm', reason: 'replication (walsender): the standby or subscriber falls behind until it reconnects'};
	if (b.backendType === 'autovacuum worker') return {level: 'confirm', reason: 'autovacuum: it comes back; a vacuum against wraparound should be left to finish'};
	if (b.backendType !== 'client backend') return {level: 'confirm', reason: `a background worker (${sanitize(b.backendType, 40)})`};
	if (isConsoleOperation(b)) {
		const what = `an intowork-db operation (${sanitize(b.application, 40)})`;
		// One signal among many would stop it half-way without anyone having read what that leaves.
		if (guards.several) return {level: 'refuse', reason: `${what}: never stopped as one of several; select it alone`};
		return {level: 'confirm', reason: `${what}: it fails half-way`};
	}
	return undefined;
}

export type KillPlan = {
	/** ordinary sessions */
	act: Backend[];
	/** protected sessions the user may still choose, with an extra confirmation */
	confirm: Array<{backend: Backend; reason: string}>;
	refuse: Array<{backend: Backend; reason: string}>;
};

export function planKill(backends: readonly Backend[], role: string, guards: KillGuards = {}): KillPlan {
	const plan: KillPlan = {act: [], confirm: [], refuse: []};
	for (const backend of backends) {
		const p = protection(backend, role, guards);
		if (!p) plan.act.push(backend);
		else if (p.level === 'confirm') plan.confirm.push({backend, reason: p.reason});
		else plan.refuse.push({backend, reason: p.reason});
	}
	return plan;
}

export type Via = 'console' | 'cli';

// Query text in the audit log: enough to recognise the statement, bounded so one huge query cannot bloat the log.
const auditQueryChars = 4000;

function auditOutcome(ctx: AuditContext, mode: KillMode, o: KillOutcome, via: Via, env?: NodeJS.ProcessEnv) {
	const t = o.target;
	audit(
		ctx,
		{
			action: o.result === 'refused' ? 'refuse' : mode,
			result: o.detail ? `${o.result}: ${o.detail}` : o.result,
			pids: [t.pid],
			query: t.query?.slice(0, auditQueryChars) ?? undefined,
			detail: {
				via,
				...(o.result === 'refused' ? {requested: mode} : {}),
				user: t.user,
				application: t.application,
				database: t.database,
				state: t.state,
				backendType: t.backendType,
				backendStart: t.backendStart,
				queryStart: t.queryStart,
				ageMs: t.ageMs === null ? null : Math.round(t.ageMs),
			},
		},
		env,
	);
}

/** Refusals are part of the record too: who tried to kill what, and why the console said no. */
export function recordRefusals(target: Target, role: string, mode: KillMode, refused: ReadonlyArray<{backend: Backend; reason: string}>, via: Via, env?: NodeJS.ProcessEnv): KillOutcome[] {
	const ctx = auditContext(target, role);
	return refused.map(({backend, reason}) => {
		const outcome: KillOutcome = {target: toKillTarget(backend), result: 'refused', detail: reason};
		auditOutcome(ctx, mode, outcome, via, env);
		return outcome;
	});
}

type SignalRow = {
	present: boolean;
	/** this role may not see the session's details (no pg_monitor), so cannot check who it is */
	hidden: boolean;
	same_backend: boolean | null;
	same_query: boolean | null;
	state: string | null;
	query: string | null;
	backend_start: string | null;
	signalled: boolean | null;
	superuser: boolean | null;
};

/**
 * One statement per target: it reads the backend and signals it only if pid
 * and backend_start (and for a cancel, query_start, with the query still
 * running) are what the user confirmed. Reading first and signalling in a
 * second round trip would let a pid reused in between be hit.
 */
export function signalSql(mode: KillMode, waitForExit: boolean): string {
	const same = `${isoMicros('s.backend_start')} = $2`;
	const sameQuery = `${isoMicros('s.query_start')} IS NOT DISTINCT FROM $3`;
	const condition = mode === 'cancel' ? `${same} AND ${sameQuery} AND s.state = 'active'` : same;
	const signal = mode === 'cancel' ? 'pg_cancel_backend(s.pid)' : waitForExit ? 'pg_terminate_backend(s.pid, $4::bigint)' : 'pg_terminate_backend(s.pid)';
	return `SELECT s.pid IS NOT NULL AS present,
	s.pid IS NOT NULL AND s.backend_type IS NULL AS hidden,
	${same} AS same_backend,
	${sameQuery} AS same_query,
	s.state, s.query,
	${isoMicros('s.backend_start')} AS backend_start,
	(SELECT r.rolsuper FROM pg_roles r WHERE r.oid = s.usesysid) AS superuser,
	CASE WHEN ${condition} AND s.pid <> pg_backend_pid() THEN ${signal} END AS signalled
FROM (SELECT $1::int AS pid) t
LEFT JOIN LATERAL pg_stat_get_activity(t.pid) s ON true`;
}

function deniedDetail(error: {message: string; detail?: string}, role: string): string {
	if (/superuser/i.test(`${error.message} ${error.detail ?? ''}`)) return superuserOnly;
	return `GRANT pg_signal_backend TO ${quoteIdent(role)};  -- lets this role cancel and terminate other roles' sessions`;
}

function judge(mode: KillMode, t: KillTarget, row: SignalRow | undefined, role: string): KillOutcome {
	if (!row?.present) return {target: t, result: 'gone', detail: 'the session has ended'};
	if (row.hidden && row.superuser) return {target: t, result: 'denied', detail: superuserOnly};
	if (row.hidden) return {target: t, result: 'denied', detail: `this role cannot see the session to check it is the same one: GRANT pg_monitor TO ${quoteIdent(role)};`};
	if (!row.same_backend) return {target: t, result: 'changed', detail: `pid ${t.pid} is now another session (started ${row.backend_start ?? 'at an unknown time'})`};
	if (mode === 'cancel' && !row.same_query) return {target: t, result: 'changed', detail: 'it has moved on to another query'};
	if (mode === 'cancel' && row.state !== 'active') {
		if (t.state === 'active') return {target: t, result: 'changed', detail: 'its query has finished'};
		return {target: t, result: 'not-running', detail: `${sanitize(row.state, 40) || 'idle'}: no query to cancel; terminate ends the session and rolls its transaction back`};
	}
	if (row.signalled) return {target: t, result: mode === 'cancel' ? 'cancelled' : 'terminated'};
	return {target: t, result: 'gone', detail: 'the session ended before the signal'};
}

export type KillOptions = {
	via: Via;
	/** the role as the console knows it, for the audit log when the action cannot even connect */
	role: string;
	/** PostgreSQL 14+: wait this long for a terminated backend to exit (default 5 s) */
	terminateWaitMs?: number;
	env?: NodeJS.ProcessEnv;
	/** the backend pid of the action's own connection, once open (a console job registers it) */
	onPid?(pid: number): void;
	/** after each target: how many are done */
	onProgress?(done: number): void;
	/** a cancel: the targets not signalled yet are left alone */
	signal?: AbortSignal;
};

/**
 * Signals each target on a connection of its own (the monitor's short
 * statement_timeout and its single connection stay for monitoring), records
 * every outcome in the audit log and returns them in order.
 */
export async function executeKill(target: Target, mode: KillMode, targets: readonly KillTarget[], options: KillOptions): Promise<KillOutcome[]> {
	const waitMs = options.terminateWaitMs ?? 5000;
	const client = new pg.Client(pgConfig(target, {applicationName: `${consoleOperationPrefix}kill`, statementTimeoutMs: waitMs + 10_000, lockTimeoutMs: 1000}));
	client.on('error', () => undefined);
	const outcomes: KillOutcome[] = [];
	let role = options.role;
	try {
		await client.connect();
		const setup = await client.query<{role: string; version: number; pid: number}>("SELECT current_user AS role, current_setting('server_version_num')::int AS version, pg_backend_pid() AS pid");
		role = setup.rows[0]?.role ?? role;
		if (setup.rows[0]) options.onPid?.(setup.rows[0].pid);
		const waitForExit = mode === 'terminate' && (setup.rows[0]?.version ?? 0) >= 140000;
		const sql = signalSql(mode, waitForExit);
		for (const t of targets) {
			if (options.signal?.aborted) {
				outcomes.push({target: t, result: 'failed', detail: 'not sent: the action was cancelled'});
				continue;
			}
			options.onProgress?.(outcomes.length);
			try {
				const r = await client.query<SignalRow>(sql, waitForExit ? [t.pid, t.backendStart, t.queryStart, waitMs] : [t.pid, t.backendStart, t.queryStart]);
				const row = r.rows[0];
				const seen = row?.query ? {...t, query: row.query} : t;
				let outcome = judge(mode, seen, row, role);
				if (mode === 'terminate' && row?.same_backend && row.signalled === false) {
					if (await readBackend(client, t)) outcome = {target: seen, result: 'failed', detail: `signalled, still exiting after ${Math.round(waitMs / 1000)} s`};
				}
				outcomes.push(outcome);
			} catch (error) {
				const e = error as Error & {code?: string; detail?: string};
				if (e.code === '42501') outcomes.push({target: t, result: 'denied', detail: deniedDetail(e, role)});
				else outcomes.push({target: t, result: 'failed', detail: sanitize(e.message, 300)});
			}
		}
	} catch (error) {
		const detail = `could not act: ${sanitize(errorText(error), 300)}`;
		for (const t of targets.slice(outcomes.length)) outcomes.push({target: t, result: 'failed', detail});
	} finally {
		await client.end().catch(() => undefined);
	}
	const ctx = auditContext(target, role);
	for (const o of outcomes) auditOutcome(ctx, mode, o, options.via, options.env);
	return outcomes;
}

/** Targets still running the very query that was cancelled: candidates for terminate. Read through the monitor. */
export async function stillRunning(db: Queryable, targets: readonly KillTarget[]): Promise<number[]> {
	if (targets.length === 0) return [];
	const r = await db.query<{pid: number}>(
		`SELECT t.pid FROM unnest($1::int[], $2::text[], $3::text[]) AS t(pid, backend_start, query_start)
JOIN LATERAL pg_stat_get_activity(t.pid) s ON true
WHERE ${isoMicros('s.backend_start')} = t.backend_start AND ${isoMicros('s.query_start')} IS NOT DISTINCT FROM t.query_start AND s.state = 'active'`,
		[targets.map(t => t.pid), targets.map(t => t.backendStart), targets.map(t => t.queryStart)],
	);
	return r.rows.map(row => row.pid);
}

/** Who a target is, in a line that fits an 80-column dialog: pid, user, application, state and age, when its query started. */
export function targetHead(t: KillTarget): string {
	const state = t.state === null ? (t.backendType ?? '?') : stateLabel({state: t.state, hidden: false, backendType: t.backendType});
	const start = t.queryStart ? clock(new Date(t.queryStart)) : '-';
	return `pid ${t.pid}  ${sanitize(t.user, 16) || '-'}  ${sanitize(t.application, 24) || '-'}  ${state} ${formatDuration(t.ageMs)}  query start ${start}`;
}

/** The target and its query on one line, for the CLI. */
export function targetLine(t: KillTarget): string {
	return `${targetHead(t)}  ${sanitize(t.query, 200)}`;
}

/** One line per outcome, for the CLI and the message line. */
export function outcomeLine(o: KillOutcome): string {
	return `pid ${o.target.pid}: ${resultLabels[o.result]}${o.detail ? ` (${o.detail})` : ''}`;
}

export function tally(outcomes: ReadonlyArray<{result: KillResult}>): string {
	const counts = new Map<KillResult, number>();
	for (const o of outcomes) counts.set(o.result, (counts.get(o.result) ?? 0) + 1);
	return [...counts].map(([r, n]) => `${n} ${resultLabels[r]}`).join(', ');
}
