import type {Queryable} from './monitor.js';
import type {Loader} from '../store/poller.js';
import type {Thresholds} from '../store/store.js';
import {errorText} from '../errors.js';

/**
 * A timestamp as exact text (UTC, microseconds). Identity checks compare it
 * in SQL: a JS Date would drop the microseconds, and the session's DateStyle
 * or TimeZone must not change what "the same backend" means.
 */
export function isoMicros(column: string): string {
	return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Characters of query text the list carries; Enter fetches the whole text. */
export const listQueryChars = 512;

export type HangingKind = 'active' | 'idle-tx';

export type Backend = {
	/** identity across refreshes and for actions: a reused pid gets a new backend_start */
	key: string;
	pid: number;
	backendStart: string | null;
	queryStart: string | null;
	database: string | null;
	user: string | null;
	application: string;
	clientAddr: string | null;
	clientHost: string | null;
	/** -1: a Unix socket */
	clientPort: number | null;
	/** null when this role may not see the session (no pg_monitor) */
	backendType: string | null;
	state: string | null;
	waitEventType: string | null;
	waitEvent: string | null;
	backendMs: number | null;
	xactMs: number | null;
	queryMs: number | null;
	/** time in the current state: how long an idle-in-transaction session has been idle */
	stateMs: number | null;
	/** how long a lock waiter has waited (pg_locks.waitstart on 14+, else since its state changed) */
	lockWaitMs: number | null;
	/** the first listQueryChars characters */
	query: string | null;
	blockedBy: number[];
	/** the leader of a parallel worker */
	leaderPid: number | null;
	/** the console's own monitoring session */
	own: boolean;
	hidden: boolean;
	/** the session's role is a superuser (readable without pg_monitor): only a superuser may signal it */
	superuser?: boolean;
	hanging?: HangingKind;
};

export type Counts = {
	total: number;
	active: number;
	idle: number;
	idleInTransaction: number;
	aborted: number;
	/** fastpath function call, disabled */
	other: number;
	/** state not visible to this role */
	hidden: number;
	waiting: number;
	hanging: number;
};

export type Group = {label: string; counts: Counts};

export type Summary = {
	/** client sessions by state; hidden sessions are counted, their state is not */
	sessions: Counts;
	/** replication, autovacuum, parallel and extension workers: their own slots, not max_connections' */
	workers: number;
	/** checkpointer, WAL writer and the like: not listed */
	auxiliary: number;
	/** every backend waiting on a lock, sessions and workers */
	waiting: number;
	maxConnections: number;
	reserved: number;
	/** the runbook's GROUP BY datname, usename */
	byDatabaseUser: Group[];
	byApplication: Group[];
	/** the role holding the most client sessions: what the app pool is measured against */
	busiestRole?: {user: string; count: number};
};

export type LockRow = {
	/** the chain of pids from the root, stable across refreshes */
	key: string;
	depth: number;
	pid: number;
	backend?: Backend;
	/** a prepared transaction (pg_blocking_pids reports pid 0), or a pid not in pg_stat_activity */
	placeholder?: 'prepared' | 'unlisted';
	/** sessions waiting on this one directly */
	direct: number;
	/** sessions waiting on it directly or through others */
	behind: number;
	/** its other blockers, when it waits on more than one */
	alsoWaitsFor: number[];
	/** a wait cycle (a deadlock the detector has not broken yet) */
	cycle?: boolean;
};

export type ConnectionsData = {
	backends: Backend[];
	summary: Summary;
	lockTree: LockRow[];
	thresholds: Pick<Thresholds, 'hangingActiveMs' | 'hangingIdleTxMs'>;
};

// Processes that are not sessions: no client, no query, nothing to cancel.
const auxiliaryTypes = new Set([
	'checkpointer',
	'background writer',
	'walwriter',
	'archiver',
	'autovacuum launcher',
	'logical replication launcher',
	'startup',
	'walreceiver',
	'walsummarizer',
	'slotsync worker',
	'logger',
	'stats collector',
	'io worker',
]);

type Row = {
	pid: number;
	datname: string | null;
	usename: string | null;
	application_name: string | null;
	client_addr: string | null;
	client_hostname: string | null;
	client_port: number | null;
	backend_type: string | null;
	state: string | null;
	wait_event_type: string | null;
	wait_event: string | null;
	/** seconds since the Unix epoch (double precision: exact to the microsecond) */
	now: number;
	backend_start: number | null;
	xact_start: number | null;
	query_start: number | null;
	state_change: number | null;
	query: string | null;
	leader_pid: number | null;
	superuser: boolean | null;
};

/**
 * A timestamp sent as epoch seconds (date_part, a double: exact to the
 * microsecond for this century) back as isoMicros' text: the same string,
 * without to_char on every row of every refresh.
 */
export function isoFromEpoch(seconds: number): string {
	const micros = Math.round(seconds * 1e6);
	const whole = Math.floor(micros / 1e6);
	return `${new Date(whole * 1000).toISOString().slice(0, 19)}.${String(micros - whole * 1e6).padStart(6, '0')}Z`;
}

const epoch = (column: string) => `date_part('epoch', ${column})`;

/**
 * One statement per refresh, reading pg_stat_activity once (building its rows
 * is most of the cost): timestamps as epoch seconds with one now(), the ages
 * worked out here, where to_char and numeric extract on every row cost a
 * third of the statement; the superuser flag by a join, not a subquery per
 * row. Lock waiters' blockers and wait starts come from waitersSql, only when
 * someone waits.
 */
export function connectionsSql(major: number): string {
	return `
SELECT ${epoch('now()')} AS now, a.pid, a.datname, a.usename, a.application_name,
	host(a.client_addr) AS client_addr, a.client_hostname, a.client_port,
	a.backend_type, a.state, a.wait_event_type, a.wait_event,
	${epoch('a.backend_start')} AS backend_start, ${epoch('a.xact_start')} AS xact_start,
	${epoch('a.query_start')} AS query_start, ${epoch('a.state_change')} AS state_change,
	left(a.query, ${listQueryChars}) AS query,
	${major >= 13 ? 'a.leader_pid' : 'NULL::int AS leader_pid'},
	r.rolsuper AS superuser
FROM pg_stat_activity a
LEFT JOIN pg_roles r ON r.oid = a.usesysid`;
}

/**
 * $1: the pids waiting on a lock. pg_blocking_pids takes the lock manager's
 * partition locks, so only for them; how long each has waited from
 * pg_locks.waitstart (14+; before, the time since its state changed).
 */
export function waitersSql(major: number): string {
	if (major < 14) return `SELECT w.pid, pg_blocking_pids(w.pid) AS blocked_by, NULL::float8 AS wait_ms FROM unnest($1::int[]) AS w(pid)`;
	return `SELECT w.pid, pg_blocking_pids(w.pid) AS blocked_by, extract(epoch FROM now() - l.wait_start) * 1000 AS wait_ms
FROM unnest($1::int[]) AS w(pid)
LEFT JOIN (SELECT pid, min(waitstart) AS wait_start FROM pg_locks WHERE NOT granted AND pid = ANY ($1::int[]) GROUP BY pid) l ON l.pid = w.pid`;
}

type WaiterRow = {pid: number; blocked_by: number[] | null; wait_ms: string | null};

/** ms from `at` to the statement's now(), both epoch seconds */
const age = (now: number, at: number | null) => (at === null ? null : (now - at) * 1000);

export function hangingKind(b: Pick<Backend, 'backendType' | 'state' | 'queryMs' | 'stateMs'>, t: Pick<Thresholds, 'hangingActiveMs' | 'hangingIdleTxMs'>): HangingKind | undefined {
	// walsenders are 'active' for as long as they stream; only client sessions can hang
	if (b.backendType !== 'client backend') return undefined;
	if (b.state === 'active' && (b.queryMs ?? 0) > t.hangingActiveMs) return 'active';
	if ((b.state === 'idle in transaction' || b.state === 'idle in transaction (aborted)') && (b.stateMs ?? 0) > t.hangingIdleTxMs) return 'idle-tx';
	return undefined;
}

function toBackend(r: Row, waiter: WaiterRow | undefined, ownPid: number | undefined, t: Pick<Thresholds, 'hangingActiveMs' | 'hangingIdleTxMs'>): Backend {
	const backendStart = r.backend_start === null ? null : isoFromEpoch(r.backend_start);
	const stateMs = age(r.now, r.state_change);
	const waitMs = waiter?.wait_ms ?? null;
	const b: Backend = {
		key: `${r.pid}@${backendStart ?? '?'}`,
		pid: r.pid,
		backendStart,
		queryStart: r.query_start === null ? null : isoFromEpoch(r.query_start),
		database: r.datname,
		user: r.usename,
		application: r.application_name ?? '',
		clientAddr: r.client_addr,
		clientHost: r.client_hostname,
		clientPort: r.client_port,
		backendType: r.backend_type,
		state: r.state,
		waitEventType: r.wait_event_type,
		waitEvent: r.wait_event,
		backendMs: age(r.now, r.backend_start),
		xactMs: age(r.now, r.xact_start),
		queryMs: age(r.now, r.query_start),
		stateMs,
		lockWaitMs: r.wait_event_type === 'Lock' ? (waitMs === null ? stateMs : Number(waitMs)) : null,
		query: r.query,
		blockedBy: waiter?.blocked_by ?? [],
		leaderPid: r.leader_pid,
		own: r.pid === ownPid,
		hidden: r.backend_type === null,
		superuser: r.superuser === true,
	};
	b.hanging = hangingKind(b, t);
	return b;
}

/** A session takes a max_connections slot; hidden rows with a database are most likely sessions too. */
function isClientSession(b: Backend): boolean {
	return b.backendType === 'client backend' || (b.hidden && b.database !== null);
}

function isListed(r: Row): boolean {
	if (r.backend_type === null) return r.datname !== null;
	return !auxiliaryTypes.has(r.backend_type);
}

const emptyCounts = (): Counts => ({total: 0, active: 0, idle: 0, idleInTransaction: 0, aborted: 0, other: 0, hidden: 0, waiting: 0, hanging: 0});

function count(c: Counts, b: Backend) {
	c.total++;
	if (b.hidden) c.hidden++;
	else if (b.state === 'active') c.active++;
	else if (b.state === 'idle') c.idle++;
	else if (b.state === 'idle in transaction') c.idleInTransaction++;
	else if (b.state === 'idle in transaction (aborted)') c.aborted++;
	else c.other++;
	if (b.waitEventType === 'Lock') c.waiting++;
	if (b.hanging) c.hanging++;
}

function grouped(sessions: Backend[], label: (b: Backend) => string): Group[] {
	const groups = new Map<string, Counts>();
	for (const b of sessions) {
		const key = label(b);
		let c = groups.get(key);
		if (!c) groups.set(key, (c = emptyCounts()));
		count(c, b);
	}
	return [...groups].map(([l, counts]) => ({label: l, counts})).sort((a, b) => b.counts.total - a.counts.total || a.label.localeCompare(b.label));
}

export function summarize(backends: Backend[], auxiliary: number, settings: {maxConnections: number; reserved: number}): Summary {
	const sessions = backends.filter(isClientSession);
	const counts = emptyCounts();
	for (const b of sessions) count(counts, b);
	const byUser = grouped(sessions, b => b.user ?? '(none)');
	const top = byUser[0];
	return {
		sessions: counts,
		workers: backends.length - sessions.length,
		auxiliary,
		waiting: backends.filter(b => b.waitEventType === 'Lock').length,
		maxConnections: settings.maxConnections,
		reserved: settings.reserved,
		byDatabaseUser: grouped(sessions, b => `${b.database ?? '(none)'} / ${b.user ?? '(none)'}`),
		byApplication: grouped(sessions, b => b.application || '(no application_name)'),
		busiestRole: top ? {user: top.label, count: top.counts.total} : undefined,
	};
}

/** Who waits on whom: waiter pid -> its blockers, and the reverse. */
function waitGraph(backends: readonly Backend[]) {
	const waitsFor = new Map<number, number[]>();
	const waiters = new Map<number, number[]>();
	for (const b of backends) {
		if (b.blockedBy.length === 0) continue;
		waitsFor.set(b.pid, b.blockedBy);
		for (const blocker of b.blockedBy) {
			const list = waiters.get(blocker);
			if (list) list.push(b.pid);
			else waiters.set(blocker, [b.pid]);
		}
	}
	return {waitsFor, waiters};
}

/** Every session waiting on `pid`, directly or behind another waiter. */
export function waitingBehind(backends: readonly Backend[], pid: number): {direct: number[]; all: number[]; released: number[]} {
	const {waiters, waitsFor} = waitGraph(backends);
	const direct = waiters.get(pid) ?? [];
	const seen = new Set<number>();
	const queue = [...direct];
	while (queue.length > 0) {
		const next = queue.shift()!;
		if (seen.has(next) || next === pid) continue;
		seen.add(next);
		queue.push(...(waiters.get(next) ?? []));
	}
	// freed at once: those waiting on nothing else
	const released = direct.filter(w => (waitsFor.get(w) ?? []).every(b => b === pid));
	return {direct, all: [...seen], released};
}

/**
 * The lock tree from pg_blocking_pids: root blockers (holding, not waiting)
 * first, most sessions behind them first; every waiter once, under its
 * nearest blocker, with its other blockers named. Showing each waiter under
 * every blocker would explode on a lock queue, where each waiter is blocked
 * by all the ones ahead of it.
 */
export function buildLockTree(backends: readonly Backend[]): LockRow[] {
	const {waitsFor, waiters} = waitGraph(backends);
	if (waitsFor.size === 0) return [];
	const involved = new Set<number>([...waitsFor.keys(), ...waiters.keys()]);
	// only the sessions in the tree: not a map of every session on a server with thousands
	const byPid = new Map(backends.filter(b => involved.has(b.pid)).map(b => [b.pid, b]));
	let roots = [...involved].filter(p => !waitsFor.has(p));

	// Breadth first from the roots: a waiter's parent is its blocker nearest a root.
	const parent = new Map<number, number>();
	const depth = new Map<number, number>();
	const visit = (start: number[]) => {
		const queue = [...start];
		for (const r of start) depth.set(r, 0);
		while (queue.length > 0) {
			const p = queue.shift()!;
			for (const w of waiters.get(p) ?? []) {
				if (depth.has(w)) continue;
				depth.set(w, depth.get(p)! + 1);
				parent.set(w, p);
				queue.push(w);
			}
		}
	};
	visit(roots);
	// What is left waits only in cycles: root each cycle at its lowest pid.
	const cycleRoots: number[] = [];
	for (const p of [...involved].sort((a, b) => a - b)) {
		if (depth.has(p)) continue;
		cycleRoots.push(p);
		visit([p]);
	}

	const children = new Map<number, number[]>();
	for (const [w, p] of parent) {
		const list = children.get(p);
		if (list) list.push(w);
		else children.set(p, [w]);
	}
	const behind = new Map<number, number>();
	const sizeOf = (p: number): number => {
		const known = behind.get(p);
		if (known !== undefined) return known;
		const n = (children.get(p) ?? []).reduce((sum, c) => sum + 1 + sizeOf(c), 0);
		behind.set(p, n);
		return n;
	};
	const waitOf = (p: number) => byPid.get(p)?.lockWaitMs ?? 0;
	const xactOf = (p: number) => byPid.get(p)?.xactMs ?? 0;
	roots = roots.sort((a, b) => sizeOf(b) - sizeOf(a) || xactOf(b) - xactOf(a) || a - b);

	const rows: LockRow[] = [];
	const emit = (p: number, path: string, level: number, cycle: boolean) => {
		const backend = byPid.get(p);
		const key = path ? `${path}>${p}` : String(p);
		const up = parent.get(p);
		rows.push({
			key,
			depth: level,
			pid: p,
			backend,
			placeholder: backend ? undefined : p === 0 ? 'prepared' : 'unlisted',
			direct: (waiters.get(p) ?? []).length,
			behind: sizeOf(p),
			alsoWaitsFor: (waitsFor.get(p) ?? []).filter(b => b !== up),
			cycle: cycle || undefined,
		});
		const kids = [...(children.get(p) ?? [])].sort((a, b) => waitOf(b) - waitOf(a) || a - b);
		for (const c of kids) emit(c, key, level + 1, cycle);
	};
	for (const r of roots) emit(r, '', 0, false);
	for (const r of cycleRoots) emit(r, '', 0, true);
	return rows;
}

export const loadConnections: Loader<ConnectionsData> = async ctx => {
	const r = await ctx.db.query<Row>(connectionsSql(ctx.caps.major));
	const waiting = r.rows.filter(row => row.wait_event_type === 'Lock').map(row => row.pid);
	const waiters = new Map(
		waiting.length === 0 ? [] : (await ctx.db.query<WaiterRow>(waitersSql(ctx.caps.major), [waiting])).rows.map(w => [w.pid, w] as const),
	);
	const thresholds = {hangingActiveMs: ctx.thresholds.hangingActiveMs, hangingIdleTxMs: ctx.thresholds.hangingIdleTxMs};
	const backends: Backend[] = [];
	let auxiliary = 0;
	for (const row of r.rows) {
		if (isListed(row)) backends.push(toBackend(row, waiters.get(row.pid), ctx.ownPid, thresholds));
		else auxiliary++;
	}
	return {
		backends,
		summary: summarize(backends, auxiliary, {maxConnections: ctx.caps.maxConnections, reserved: ctx.caps.reservedConnections}),
		lockTree: buildLockTree(backends),
		thresholds,
	};
};

/** The backend now, with its whole query text, if it is still the same backend (undefined once it has ended or its pid was reused). */
export async function readBackend(db: Queryable, b: Pick<Backend, 'pid' | 'backendStart'>): Promise<{query: string | null} | undefined> {
	const r = await db.query<{query: string | null}>(`SELECT query FROM pg_stat_get_activity($1::int) WHERE ${isoMicros('backend_start')} = $2`, [b.pid, b.backendStart]);
	return r.rows[0];
}

const stateLabels: Record<string, string> = {
	active: 'active',
	idle: 'idle',
	'idle in transaction': 'idle in tx',
	'idle in transaction (aborted)': 'aborted tx',
	'fastpath function call': 'fastpath',
	disabled: 'disabled',
};

export function stateLabel(b: Pick<Backend, 'state' | 'hidden' | 'backendType'>): string {
	if (b.hidden) return 'hidden';
	if (b.state === null) return b.backendType ?? '-';
	return stateLabels[b.state] ?? b.state;
}

/** Wait events longer than a column, in a short form that keeps the part that tells them apart. */
const waitEventShort: Record<string, string> = {
	transactionid: 'txid',
	virtualxid: 'vxid',
	relation: 'rel',
	advisory: 'advisory',
	ClientRead: 'Read',
	ClientWrite: 'Write',
	PgSleep: 'Sleep',
};

/** `Lock:transactionid` → `Lock:txid`, `Client:ClientRead` → `Client:Read`; '' when the session waits for nothing. */
export function waitLabel(b: Pick<Backend, 'waitEventType' | 'waitEvent'>): string {
	if (!b.waitEventType) return '';
	const event = b.waitEvent ?? '';
	const short = waitEventShort[event] ?? (event.startsWith(b.waitEventType) && event.length > b.waitEventType.length ? event.slice(b.waitEventType.length) : event);
	return `${b.waitEventType}:${short}`;
}

/** A parallel worker: its leader is another backend. */
export const isParallelWorker = (b: Pick<Backend, 'pid' | 'leaderPid'>): boolean => b.leaderPid !== null && b.leaderPid !== b.pid;

export type WorkerGroups = {
	/** the list with each leader's workers under it: only the expanded leaders' */
	rows: Backend[];
	/** workers per leader pid */
	workers: ReadonlyMap<number, number>;
	/** rows shown under their leader */
	nested: ReadonlySet<string>;
};

/**
 * Parallel workers grouped under their leader (leader_pid), counted, shown only for the leaders in
 * `expanded` (backend keys). A worker whose leader is not in the list stays a row of its own.
 */
export function groupWorkers(rows: readonly Backend[], expanded: ReadonlySet<string>): WorkerGroups {
	// most refreshes have no parallel query running: nothing to group
	if (!rows.some(isParallelWorker)) return {rows: rows as Backend[], workers: new Map(), nested: new Set()};
	const leaders = new Map(rows.filter(b => !isParallelWorker(b)).map(b => [b.pid, b]));
	const under = new Map<number, Backend[]>();
	for (const b of rows) {
		if (!isParallelWorker(b) || !leaders.has(b.leaderPid!)) continue;
		under.set(b.leaderPid!, [...(under.get(b.leaderPid!) ?? []), b]);
	}
	const out: Backend[] = [];
	const nested = new Set<string>();
	for (const b of rows) {
		if (isParallelWorker(b) && leaders.has(b.leaderPid!)) continue;
		out.push(b);
		const workers = under.get(b.pid);
		if (!workers || !expanded.has(b.key)) continue;
		for (const w of [...workers].sort((x, y) => x.pid - y.pid)) {
			out.push(w);
			nested.add(w.key);
		}
	}
	return {rows: out, workers: new Map([...under].map(([pid, ws]) => [pid, ws.length])), nested};
}

/** How long the session has been in what makes it interesting: running its query, or idle inside a transaction. */
export function relevantAgeMs(b: Pick<Backend, 'state' | 'queryMs' | 'stateMs'>): number | null {
	if (b.state === 'active') return b.queryMs;
	if (b.state === 'idle in transaction' || b.state === 'idle in transaction (aborted)') return b.stateMs;
	return null;
}

export type SortId = 'xact' | 'query' | 'state-age' | 'pid' | 'user' | 'application' | 'database' | 'state' | 'wait' | 'client';

type SortOrder = {id: SortId; title: string; descending: boolean; value(b: Backend): number | string | null};

/** What `s` cycles through; ages longest first, names A to Z. */
export const sortOrders: readonly SortOrder[] = [
	{id: 'xact', title: 'transaction age', descending: true, value: b => b.xactMs},
	{id: 'query', title: 'query age', descending: true, value: b => b.queryMs},
	{id: 'state-age', title: 'time in state', descending: true, value: b => b.stateMs},
	{id: 'pid', title: 'pid', descending: false, value: b => b.pid},
	{id: 'user', title: 'user', descending: false, value: b => b.user},
	{id: 'application', title: 'application', descending: false, value: b => b.application},
	{id: 'database', title: 'database', descending: false, value: b => b.database},
	{id: 'state', title: 'state', descending: false, value: b => stateLabel(b)},
	{id: 'wait', title: 'wait event', descending: false, value: b => waitLabel(b) || null},
	{id: 'client', title: 'client', descending: false, value: b => b.clientHost ?? b.clientAddr},
];

export function nextSort(current: SortId): SortId {
	const i = sortOrders.findIndex(o => o.id === current);
	return sortOrders[(i + 1) % sortOrders.length]!.id;
}

export type Filter = {test(b: Backend): boolean; error?: string};

/** A case-insensitive regex over user, application, database and query; text that is not a valid regex is matched literally, and says so. */
export function compileFilter(text: string): Filter {
	if (!text) return {test: () => true};
	let re: RegExp;
	let error: string | undefined;
	try {
		re = new RegExp(text, 'i');
	} catch (e) {
		re = new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
		error = `not a valid regex (${errorText(e)}): matching the text literally`;
	}
	return {test: b => re.test(b.user ?? '') || re.test(b.application) || re.test(b.database ?? '') || re.test(b.query ?? ''), error};
}

/** Filtered and sorted; unknown values (null) last in either direction, then by pid so equal rows keep still. */
export function viewBackends(backends: readonly Backend[], filter: Filter, sort: SortId, reverse: boolean): Backend[] {
	const order = sortOrders.find(o => o.id === sort) ?? sortOrders[0]!;
	const sign = order.descending !== reverse ? -1 : 1;
	const keyed = backends.filter(b => filter.test(b)).map(b => ({b, v: order.value(b)}));
	keyed.sort((x, y) => {
		if (x.v === null || y.v === null) return x.v === y.v ? x.b.pid - y.b.pid : x.v === null ? 1 : -1;
		const c = typeof x.v === 'number' && typeof y.v === 'number' ? x.v - y.v : String(x.v).localeCompare(String(y.v));
		return c === 0 ? x.b.pid - y.b.pid : sign * c;
	});
	return keyed.map(k => k.b);
}
