import pg from 'pg';
import {appQueries, appQueryContext, type AppQueryContext, type AppQueryId} from '../db/app-queries.js';

/** The application_name of each kind of session the demo keeps open, as the screens see them. */
export const workloadApplicationNames = {
	api: 'intowork-api',
	worker: 'intowork-worker',
	export: 'intowork-export',
	admin: 'intowork-admin',
	reports: 'intowork-reports',
} as const;

export type WorkloadOptions = {
	/** superuser DSN; only for ending the workload's own sessions */
	url: string;
	/** DSN of the intowork_app role, which all the traffic uses */
	appUrl: string;
	/** pause before a cancelled or terminated piece comes back (default 90 s, room for a migration) */
	restartAfterMs?: number;
	/** job searches per second; the rest of the app's traffic scales with it (default 5, 0 = no app traffic) */
	rate?: number;
	log?: (line: string) => void;
};

/** runs: statements issued (for the long-lived sessions, sessions started); restarts: comebacks after a cancel or kill. */
export type PieceStats = {runs: number; errors: number; restarts: number};

export type Workload = {
	stop(): Promise<void>;
	stats(): Record<string, PieceStats>;
};

const poolSize = 8;
const reportEveryMs = 20_000;
const contextRetryMs = 2_000;

const applySql = `INSERT INTO job_applications (job_id, candidate_id, status, applied_at, updated_at)
SELECT j.id, $2::int, 'pending', now(), now()
FROM jobs j
WHERE j.id = $1::int AND j.status = 'published'
	AND NOT EXISTS (SELECT 1 FROM job_applications a WHERE a.job_id = $1::int AND a.candidate_id = $2::int)`;

const viewJobSql = 'UPDATE jobs SET views_count = views_count + 1 WHERE id = $1';

const workerSql = `SELECT n.id, n.user_id, n.type, n.title
FROM notifications n
WHERE n.is_read = $1
ORDER BY n.created_at
LIMIT 100`;

const adminSql = "UPDATE jobs SET status = 'closed', updated_at = now() WHERE id = $1";

const exportSql = 'SELECT pg_sleep(3600)';

// count(DISTINCT) sorts every application of the year: a second or more at demo scale.
const reportSql = `SELECT co.industry, j.location, a.status,
	count(*) AS applications,
	count(DISTINCT a.candidate_id) AS candidates,
	round(avg(j.salary_min)) AS avg_salary_min,
	max(a.applied_at) AS last_applied_at
FROM job_applications a
JOIN jobs j ON j.id = a.job_id
JOIN companies co ON co.id = j.company_id
WHERE a.applied_at >= now() - $1::interval
GROUP BY co.industry, j.location, a.status
ORDER BY applications DESC`;

type Session = {
	client: pg.Client;
	/** rejects when the connection closes, with the server's error when it sent one (57P01 for a kill) */
	gone: Promise<never>;
};

function describe(error: unknown): string {
	if (!(error instanceof Error)) return String(error);
	const code = (error as Error & {code?: string}).code;
	return code ? `${code} ${error.message}` : error.message;
}

// pg sets processID from the server's BackendKeyData but does not declare it.
const pidOf = (client: pg.Client) => (client as pg.Client & {processID?: number | null}).processID ?? undefined;

const randomId = (max: number) => 1 + Math.floor(Math.random() * Math.max(1, max));

export function startWorkload(options: WorkloadOptions): Workload {
	const log = options.log ?? (() => undefined);
	const restartAfterMs = options.restartAfterMs ?? 90_000;
	const rate = options.rate ?? 5;
	const stats: Record<string, PieceStats> = {};
	const stat = (name: string) => (stats[name] ??= {runs: 0, errors: 0, restarts: 0});
	const clients = new Set<pg.Client>();
	const timers = new Set<NodeJS.Timeout>();
	const wakers = new Set<() => void>();
	const pieces: Promise<void>[] = [];
	let stopped = false;
	let stopping: Promise<void> | undefined;
	let lockedJobId: number | undefined;

	// Once stopping, errors are our own kills and not worth a line.
	const fail = (name: string, error: unknown) => {
		if (stopped) return;
		stat(name).errors++;
		log(`workload ${name}: ${describe(error)}`);
	};

	/** A sleep that stop() cuts short. */
	const sleep = (ms: number) =>
		new Promise<void>(resolve => {
			if (stopped) return resolve();
			const wake = () => {
				clearTimeout(timer);
				wakers.delete(wake);
				resolve();
			};
			const timer = setTimeout(wake, ms);
			wakers.add(wake);
		});

	const track = (client: pg.Client) => {
		clients.add(client);
		client.once('end', () => clients.delete(client));
	};

	const pool = new pg.Pool({
		connectionString: options.appUrl,
		application_name: workloadApplicationNames.api,
		max: poolSize,
		connectionTimeoutMillis: 5_000,
	});
	pool.on('error', error => {
		if (!stopped) log(`workload intowork-api pool: ${describe(error)}`);
	});
	pool.on('connect', track);

	async function open(applicationName: string): Promise<Session> {
		const client = new pg.Client({connectionString: options.appUrl, application_name: applicationName, connectionTimeoutMillis: 5_000});
		let lastError: Error | undefined;
		// The server's reason (57P01) comes first; pg follows it with a generic "terminated unexpectedly".
		client.on('error', error => {
			lastError ??= error;
		});
		const gone = new Promise<never>((_resolve, reject) => {
			client.once('end', () => reject(lastError ?? new Error('connection closed')));
		});
		// Nobody awaits gone once a piece has moved on; the rejection is expected then.
		gone.catch(() => undefined);
		track(client);
		try {
			await client.connect();
		} catch (error) {
			clients.delete(client);
			throw error;
		}
		if (stopped) {
			await client.end().catch(() => undefined);
			throw new Error('workload stopped');
		}
		return {client, gone};
	}

	const close = (session: Session) => session.client.end().catch(() => undefined);

	/** Runs a piece, and whenever it dies (cancelled, killed, server gone) brings it back after restartAfterMs. */
	function supervise(name: string, run: () => Promise<void>) {
		pieces.push(
			(async () => {
				for (;;) {
					try {
						await run();
					} catch (error) {
						fail(name, error);
					}
					if (stopped) return;
					log(`workload ${name}: ended; back in ${Math.round(restartAfterMs / 1000)} s`);
					await sleep(restartAfterMs);
					if (stopped) return;
					stat(name).restarts++;
				}
			})(),
		);
	}

	function every(ms: number, task: () => void) {
		timers.add(setInterval(task, ms));
	}

	async function appCall(name: string, sql: string, params: unknown[]) {
		// Skip rather than queue without bound while the pool is stuck (a lock, a migration).
		if (stopped || pool.waitingCount >= poolSize) return;
		stat(name).runs++;
		try {
			await pool.query(sql, params);
		} catch (error) {
			fail(name, error);
		}
	}

	function appTraffic(ctx: AppQueryContext) {
		if (rate <= 0) return;
		const query = (id: AppQueryId) => () => void appCall(id, appQueries[id].sql, appQueries[id].params(ctx, Math.random));
		every(1000 / rate, query('job_list'));
		every(1000 / rate, query('application_list'));
		every(5000 / rate, query('dashboard'));
		every(15_000 / rate, () => void appCall('apply', applySql, [randomId(ctx.maxJob), randomId(ctx.maxCandidate)]));
		every(10_000 / rate, () => {
			const jobId = randomId(ctx.maxJob);
			// The lock chain's row would add a third waiter to the chain.
			if (jobId !== lockedJobId) void appCall('view_job', viewJobSql, [jobId]);
		});
	}

	async function worker() {
		const session = await open(workloadApplicationNames.worker);
		try {
			stat('worker').runs++;
			await session.client.query('BEGIN');
			await session.client.query(workerSql, [false]);
			// The job crashed between reading its batch and committing: the session stays idle in transaction.
			await session.gone;
		} finally {
			await close(session);
		}
	}

	async function hangingExport() {
		const session = await open(workloadApplicationNames.export);
		try {
			stat('export').runs++;
			await Promise.race([session.client.query(exportSql), session.gone]);
		} finally {
			await close(session);
		}
	}

	/** One app session queued behind the blocker; requeued after restartAfterMs if it alone is cancelled or killed. */
	async function lockWaiter(jobId: number, blockerGone: Promise<never>) {
		let blockerHolds = true;
		const released = blockerGone.catch(() => {
			blockerHolds = false;
		});
		for (;;) {
			let session: Session | undefined;
			try {
				session = await open(workloadApplicationNames.api);
				stat('lock_waiter').runs++;
				await Promise.race([session.client.query(viewJobSql, [jobId]), session.gone]);
			} catch (error) {
				fail('lock_waiter', error);
			} finally {
				if (session) await close(session);
			}
			// Its UPDATE only completes once the blocker has gone; wait for that to be observed too.
			await Promise.race([sleep(restartAfterMs), released]);
			if (stopped || !blockerHolds) return;
			stat('lock_waiter').restarts++;
		}
	}

	async function lockChain(ctx: AppQueryContext) {
		const jobId = randomId(ctx.maxJob);
		const admin = await open(workloadApplicationNames.admin);
		let waiters: Promise<void>[] = [];
		try {
			stat('lock_blocker').runs++;
			await admin.client.query('BEGIN');
			await admin.client.query(adminSql, [jobId]);
			lockedJobId = jobId;
			// Queued only once the row is locked, so they wait on the admin and not the other way round. The
			// first waits on the admin's transaction, the second on the first's tuple lock: admin <- api <- api.
			waiters = [lockWaiter(jobId, admin.gone), lockWaiter(jobId, admin.gone)];
			await admin.gone;
		} finally {
			lockedJobId = undefined;
			await close(admin);
			await Promise.all(waiters);
		}
	}

	async function reports() {
		const session = await open(workloadApplicationNames.reports);
		try {
			while (!stopped) {
				stat('reports').runs++;
				await Promise.race([session.client.query(reportSql, ['365 days']), session.gone]);
				await Promise.race([sleep(reportEveryMs), session.gone]);
			}
		} finally {
			await close(session);
		}
	}

	async function begin() {
		let ctx: AppQueryContext | undefined;
		while (!stopped && !ctx) {
			try {
				ctx = await appQueryContext(pool);
			} catch (error) {
				fail('context', error);
				await sleep(contextRetryMs);
			}
		}
		if (!ctx || stopped) return;
		const ready = ctx;
		appTraffic(ready);
		supervise('worker', worker);
		supervise('export', hangingExport);
		supervise('lock_blocker', () => lockChain(ready));
		supervise('reports', reports);
	}

	const started = begin();

	async function stop() {
		stopped = true;
		for (const timer of timers) clearInterval(timer);
		timers.clear();
		for (const wake of [...wakers]) wake();
		// A closed socket does not stop a backend in pg_sleep or in a lock wait, so end them server-side.
		const pids = [...clients].map(pidOf).filter((pid): pid is number => pid !== undefined);
		if (pids.length > 0) {
			// The superuser, so that this works whatever was done to the app role during the demo.
			const control = new pg.Client({connectionString: options.url, connectionTimeoutMillis: 3_000});
			control.on('error', () => undefined);
			try {
				await control.connect();
				await control.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
			} catch (error) {
				log(`workload stop: ${describe(error)}`);
			} finally {
				await control.end().catch(() => undefined);
			}
		}
		await Promise.all([...clients].map(client => client.end().catch(() => undefined)));
		await pool.end().catch(() => undefined);
		await started;
		await Promise.all(pieces);
	}

	return {
		stop: () => (stopping ??= stop()),
		stats: () => structuredClone(stats),
	};
}
