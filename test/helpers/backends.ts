import {after} from 'node:test';
import pg from 'pg';
import type {Backend} from '../../source/db/connections.js';
import {waitFor, type TestDatabase} from './db.js';

export type Session = {
	client: pg.Client;
	pid: number;
	application: string;
	/** resolves once the connection has closed (terminated, or ended by the test) */
	closed: Promise<void>;
};

/** A statement left running: `done` settles with its error (a cancel, a kill) or undefined when it finishes. */
export type Running = {done: Promise<(Error & {code?: string}) | undefined>};

/**
 * Sessions a test opens on purpose (sleepers, idle transactions, lock
 * holders) in its own database. Everything still open when the file ends is
 * terminated server-side (a closed socket does not stop a pg_sleep) and
 * closed. Call at the top level of a test file.
 */
/** Sessions closed when the file ends, or with `cleanup` (a test's own `t.after`) when the test does. */
export function sessionPool(db: TestDatabase, cleanup: (fn: () => Promise<void>) => void = after) {
	const open = new Set<Session>();
	cleanup(async () => {
		const pids = [...open].map(s => s.pid);
		if (pids.length > 0) {
			// only backends this file started, in its own database
			await db.client
				.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND datname = current_database()', [pids])
				.catch(() => undefined);
		}
		await Promise.all([...open].map(s => s.client.end().catch(() => undefined)));
	});

	async function session(application: string, url = db.url): Promise<Session> {
		const client = new pg.Client({connectionString: url, application_name: application});
		client.on('error', () => undefined);
		const closed = new Promise<void>(resolve => client.once('end', () => resolve()));
		await client.connect();
		const r = await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
		const s: Session = {client, pid: r.rows[0]!.pid, application, closed};
		open.add(s);
		void closed.then(() => open.delete(s));
		return s;
	}

	/** Run without waiting; for statements that block (pg_sleep, a lock wait). */
	function start(s: Session, sql: string, params?: unknown[]): Running {
		return {
			done: s.client.query(sql, params).then(
				() => undefined,
				(error: Error & {code?: string}) => error,
			),
		};
	}

	/** The backend's state as the server reports it now. */
	async function stateOf(pid: number): Promise<{state: string | null; wait_event_type: string | null; query: string | null} | undefined> {
		const r = await db.client.query('SELECT state, wait_event_type, query FROM pg_stat_activity WHERE pid = $1', [pid]);
		return r.rows[0];
	}

	async function gone(pid: number): Promise<boolean> {
		return (await stateOf(pid)) === undefined;
	}

	/** A session running `SELECT pg_sleep(seconds)` (or `sql`), once the server shows it active. */
	async function sleeper(application: string, options: {url?: string; sql?: string; seconds?: number} = {}) {
		const s = await session(application, options.url);
		const running = start(s, options.sql ?? `SELECT pg_sleep(${options.seconds ?? 120})`);
		await waitFor(async () => (await stateOf(s.pid))?.state === 'active', {message: `${application} active`});
		return {...s, running};
	}

	/** A session idle inside an open transaction. */
	async function idleInTransaction(application: string, url?: string) {
		const s = await session(application, url);
		await s.client.query('BEGIN');
		await s.client.query('SELECT 1');
		return s;
	}

	/** A transaction holding a snapshot: every concurrent build waits for it in its last phase. */
	async function oldSnapshot(application: string) {
		const s = await session(application);
		await s.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
		await s.client.query('SELECT 1');
		return s;
	}

	/** A transaction that has run `sql` (a LOCK TABLE, a SELECT … FOR UPDATE) and keeps what it took until the pool is closed. */
	async function holding(application: string, sql: string) {
		const s = await session(application);
		await s.client.query('BEGIN');
		await s.client.query(sql);
		return s;
	}

	/** A transaction holding a row lock on jobs, and `waiters` sessions queued behind it, once they all wait. */
	async function lockChain(prefix: string, waiters: number, jobId = 1) {
		const blocker = await session(`${prefix}-blocker`);
		await blocker.client.query('BEGIN');
		await blocker.client.query('UPDATE jobs SET views_count = views_count + 1 WHERE id = $1', [jobId]);
		const queued: Array<Session & {running: Running}> = [];
		for (let i = 1; i <= waiters; i++) {
			const w = await session(`${prefix}-waiter${i}`);
			const running = start(w, 'UPDATE jobs SET views_count = views_count + 1 WHERE id = $1', [jobId]);
			await waitFor(async () => (await stateOf(w.pid))?.wait_event_type === 'Lock', {message: `${prefix}-waiter${i} waiting`});
			queued.push({...w, running});
		}
		return {blocker, waiters: queued};
	}

	return {session, start, stateOf, gone, sleeper, idleInTransaction, oldSnapshot, holding, lockChain};
}

/** A backend as the loader would return it, for pure logic and for states no real server can be put in (10,000 sessions). */
export function fakeBackend(pid: number, patch: Partial<Backend> = {}): Backend {
	const backendStart = `2026-01-01T00:00:00.${String(pid % 1_000_000).padStart(6, '0')}Z`;
	return {
		key: `${pid}@${backendStart}`,
		pid,
		backendStart,
		queryStart: backendStart,
		database: 'intowork',
		user: 'intowork_app',
		application: 'intowork-api',
		clientAddr: '10.0.0.1',
		clientHost: null,
		clientPort: 40000,
		backendType: 'client backend',
		state: 'idle',
		waitEventType: null,
		waitEvent: null,
		backendMs: 60_000,
		xactMs: null,
		queryMs: 1000,
		stateMs: 1000,
		lockWaitMs: null,
		query: 'SELECT 1',
		blockedBy: [],
		leaderPid: null,
		own: false,
		hidden: false,
		...patch,
	};
}
