import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {startDemo, type Demo, type DemoOptions} from '../source/demo/demo.js';
import {cacheRoot, freePort} from '../source/demo/pg-server.js';
import {intoworkTables, previousRevision} from '../source/intowork.js';
import {accepting, waitFor} from './helpers/db.js';

// Under the cache root, not os.tmpdir(): as root the server runs as postgres, which must traverse it.
const cacheDir = path.join(cacheRoot(), 'test', `demo-${process.pid}`);
const port = await freePort();
const base: DemoOptions = {cacheDir, port, scale: 0.01, restartAfterMs: 1500};
const survivor = 'demo-test-survivor';

let running: Demo | undefined;
after(async () => {
	await running?.stop();
	fs.rmSync(cacheDir, {recursive: true, force: true});
});

async function start(options: DemoOptions): Promise<Demo> {
	running = await startDemo(options);
	return running;
}

async function stop(demo: Demo): Promise<void> {
	await demo.stop();
	running = undefined;
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
	const client = new pg.Client({connectionString: url});
	client.on('error', () => undefined);
	await client.connect();
	try {
		return (await client.query<R>(sql, params)).rows;
	} finally {
		await client.end();
	}
}


test('a port that is taken is refused with a clear message', async () => {
	const holder = net.createServer();
	const taken = await new Promise<number>(resolve => {
		holder.listen(0, '127.0.0.1', () => resolve((holder.address() as net.AddressInfo).port));
	});
	try {
		await assert.rejects(startDemo({...base, port: taken}), new RegExp(`port ${taken} is already in use`));
	} finally {
		holder.close();
	}
});

test('the first start seeds intowork at the revision before the migration', async () => {
	const demo = await start({...base, workload: false});
	const tables = await query<{table_name: string}>(demo.url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
	const names = new Set(tables.map(row => row.table_name));
	for (const table of intoworkTables) assert.ok(names.has(table), `missing table ${table}`);
	assert.equal(intoworkTables.length, 15);

	const [revision] = await query<{version_num: string}>(demo.url, 'SELECT version_num FROM alembic_version');
	assert.equal(revision?.version_num, previousRevision);

	const [duplicates] = await query<{pairs: string}>(
		demo.url,
		'SELECT count(*) AS pairs FROM (SELECT 1 FROM job_applications GROUP BY job_id, candidate_id HAVING count(*) > 1) d',
	);
	assert.ok(Number(duplicates?.pairs) > 0, 'no duplicate job applications');

	const [extension] = await query<{n: string}>(demo.url, "SELECT count(*) AS n FROM pg_extension WHERE extname = 'pg_stat_statements'");
	assert.equal(extension?.n, '1');
	const [app] = await query<{user: string}>(demo.appUrl, 'SELECT current_user AS user');
	assert.equal(app?.user, 'intowork_app');

	await query(demo.url, 'INSERT INTO companies (name) VALUES ($1)', [survivor]);
	await stop(demo);
});

test('a second start reuses the seeded data', async () => {
	const demo = await start({...base, workload: false});
	const rows = await query(demo.url, 'SELECT 1 FROM companies WHERE name = $1', [survivor]);
	assert.equal(rows.length, 1, 'the data dir was rebuilt instead of reused');
	await stop(demo);
});

type Activity = {pid: number; application_name: string; state: string | null; query: string; blocked_by: number[]};

test('reset rebuilds, and the workload keeps the screens alive', async () => {
	const demo = await start({...base, reset: true});
	assert.equal((await query(demo.url, 'SELECT 1 FROM companies WHERE name = $1', [survivor])).length, 0, 'reset kept the old data');

	const activity = () =>
		query<Activity>(
			demo.url,
			`SELECT pid, application_name, state, query, pg_blocking_pids(pid) AS blocked_by
			FROM pg_stat_activity WHERE datname = 'intowork' AND pid <> pg_backend_pid()`,
		);

	await waitFor(async () => (await activity()).some(a => a.application_name === 'intowork-worker' && a.state === 'idle in transaction'), {
		message: 'an idle in transaction intowork-worker',
	});
	const sleeper = async () => (await activity()).find(a => a.application_name === 'intowork-export' && a.state === 'active' && a.query.includes('pg_sleep'));
	const exporter = await waitFor(sleeper, {message: 'an active pg_sleep from intowork-export'});
	assert.ok(exporter);

	// Two updates of one row queue up as a chain: the first waits on the admin's transaction, the
	// second on the first's tuple lock, so pg_blocking_pids names the admin for one of them directly.
	await waitFor(
		async () => {
			const sessions = await activity();
			const admin = sessions.find(a => a.application_name === 'intowork-admin' && a.state === 'idle in transaction');
			if (!admin) return false;
			const behind = new Set([admin.pid]);
			for (let grew = true; grew; ) {
				grew = false;
				for (const a of sessions) {
					if (!behind.has(a.pid) && a.blocked_by.some(pid => behind.has(pid))) {
						behind.add(a.pid);
						grew = true;
					}
				}
			}
			const waiters = sessions.filter(a => behind.has(a.pid) && a.application_name === 'intowork-api' && a.query.startsWith('UPDATE jobs'));
			return waiters.length === 2 && waiters.some(a => a.blocked_by.includes(admin.pid));
		},
		{message: 'two intowork-api updates behind the intowork-admin blocker'},
	);

	await query(demo.url, 'SELECT pg_terminate_backend($1)', [exporter.pid]);
	await waitFor(async () => {
		const again = await sleeper();
		return again !== undefined && again.pid !== exporter.pid;
	}, {message: 'a new intowork-export after the kill'});

	const stats = await waitFor(() => {
		const current = demo.workload?.stats();
		return current && (current.job_list?.runs ?? 0) > 0 && (current.reports?.runs ?? 0) > 0 ? current : undefined;
	}, {message: 'app traffic and a report'});
	assert.ok(stats);
	assert.equal(stats.export?.restarts, 1);
	assert.equal(stats.export?.errors, 1);

	await stop(demo);
	assert.equal(await accepting(port), false, 'the server still listens after stop()');
});
