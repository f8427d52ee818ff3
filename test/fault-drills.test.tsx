import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {startCluster, stopCluster, templateDatabase} from './helpers/cluster.js';
import {waitFor} from './helpers/db.js';
import {runCli} from './helpers/cli.js';
import {renderApp} from './helpers/render.js';
import {startStallProxy} from './helpers/stall-proxy.js';

// A server of its own, small enough to exhaust, restarted many times.
const server = await startCluster(15, {settings: {max_connections: 20}});
after(() => stopCluster(server));
const url = server.url(templateDatabase);

test('50 server restarts in a row: the monitor reconnects every time, without leaking', async () => {
	const monitor = new Monitor(resolveTarget({dsn: url, env: {}}), {minBackoffMs: 50, maxBackoffMs: 200});
	await monitor.connect();
	const listenersBefore = monitor.listenerCount('state');
	try {
		const pids = new Set<number>();
		for (let i = 0; i < 50; i++) {
			await server.restart();
			await waitFor(async () => monitor.state.status === 'live' && (await monitor.query('SELECT 1')).rowCount === 1, {timeout: 15_000, message: `restart ${i}`});
			pids.add(monitor.state.backendPid!);
		}
		assert.equal(pids.size, 50, 'a new backend after each restart');
		assert.equal(monitor.listenerCount('state'), listenersBefore);
		const r = await monitor.query<{n: string}>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'intowork-db'`);
		assert.equal(Number(r.rows[0]!.n), 1, 'exactly one monitor session on the server');
	} finally {
		await monitor.close();
	}
});

test('max_connections exhausted: the open console keeps its connection, a new one gets a clear line', async () => {
	const app = await renderApp(url, {size: {columns: 120, rows: 30}});
	const hogs: pg.Client[] = [];
	try {
		await app.waitForFrame(/Connections\s+\S+ \d+ \/ 17 usable/);
		// fill every slot that is not reserved for superusers
		for (;;) {
			const c = new pg.Client({connectionString: server.url(templateDatabase, 'intowork_app', 'intowork_app')});
			c.on('error', () => undefined);
			try {
				await c.connect();
				hogs.push(c);
			} catch {
				break;
			}
		}
		await app.waitForFrame(/Connections\s+\S+ 17 \/ 17 usable \(100%/);
		const r = await runCli([server.url(templateDatabase, 'intowork_app', 'intowork_app')]);
		assert.equal(r.code, 3);
		assert.match(r.stderr.trim(), /^cannot connect to intowork_app:\*\*\*@127\.0\.0\.1:\d+\/intowork_template: server has no free connection slots/);
		assert.equal(r.stderr.trim().split('\n').length, 1);
		assert.equal(app.monitor.state.status, 'live');
	} finally {
		await Promise.all(hogs.map(c => c.end().catch(() => undefined)));
		await app.cleanup();
	}
});

test('a network stall: statements time out, keys still answer, it recovers when the network does', async () => {
	const proxy = await startStallProxy(server.port);
	const proxied = url.replace(`:${server.port}/`, `:${proxy.port}/`);
	const app = await renderApp(proxied, {size: {columns: 120, rows: 30}});
	try {
		await app.waitForFrame(/● live[\s\S]*Connections\s+\S+ \d+/);
		proxy.stall();
		// the console is still interactive while its statement hangs
		app.press('p');
		await app.waitForFrame(/‖ paused/, 'key while stalled', 2000);
		app.press('p');
		await app.waitForFrame(/reconnecting, attempt \d+/, 'client-side timeout', 20_000);
		app.press('?');
		await app.waitForFrame(/Everywhere/, 'help while reconnecting', 2000);
		app.press('\u001B');
		proxy.resume();
		await app.waitForFrame(f => /● live/.test(f) && !/STALE/.test(f) && /Connections\s+\S+ \d+/.test(f), 'recovered', 30_000);
	} finally {
		await app.cleanup();
		await proxy.close();
	}
});

test('a role without pg_monitor: counts stay true, hidden details are said with the GRANT', async () => {
	const admin = new pg.Client({connectionString: url});
	await admin.connect();
	await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drill_plain') THEN CREATE ROLE drill_plain LOGIN PASSWORD 'drill_pw'; END IF; END $$`);
	const others: pg.Client[] = [];
	for (let i = 0; i < 5; i++) {
		const c = new pg.Client({connectionString: url});
		await c.connect();
		others.push(c);
	}
	const app = await renderApp(server.url(templateDatabase, 'drill_plain', 'drill_pw'), {size: {columns: 140, rows: 30}});
	try {
		const truth = async () => Number((await admin.query<{n: string}>(`SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`)).rows[0]!.n);
		const frame = await app.waitForFrame(/state hidden \(GRANT pg_monitor\)/);
		const shown = Number(/Connections\s+\S+ (\d+) \//.exec(frame)?.[1]);
		const expected = await truth();
		assert.ok(Math.abs(shown - expected) <= 1, `shows ${shown} sessions, the server has ${expected}`);
		assert.ok(shown >= 7, 'other roles\' sessions are counted');
		assert.match(frame, /no monitor privileges/);
		assert.match(frame, /alembic_version not readable: permission denied/);
		app.press('?');
		await app.waitForFrame(/GRANT pg_monitor TO "drill_plain"/);
	} finally {
		await app.cleanup();
		await Promise.all(others.map(c => c.end()));
		await admin.end();
	}
});

test('hostile text in queries and application names cannot reach the terminal', async () => {
	const hostileApp = `evil\u001B]0;pwned\u0007app`;
	const hostile = new pg.Client({connectionString: url, application_name: hostileApp});
	await hostile.connect();
	const payload = `\u001B]52;c;ZXZpbA==\u0007\u001B[2J\u001B[H\u202Egnp.exe\u009B31m`;
	const running = hostile.query(`SELECT pg_sleep(30) /* ${payload} */`).catch(() => undefined);
	const app = await renderApp(url, {size: {columns: 160, rows: 30}});
	try {
		const frame = await app.waitForFrame(/Longest running\s+\S+ pid \d+ .*pg_sleep\(30\)/);
		assert.ok(!frame.includes('\u001B]'), 'no OSC sequence');
		assert.ok(!/\u001B\[[0-9;]*[HJK]/.test(frame), 'no cursor movement or erase');
		assert.ok(!/[\u202E\u009B\u0007\u0000]/.test(frame), 'no bidi override, 8-bit CSI, BEL or NUL');
		assert.match(frame, /pg_sleep\(30\) \/\* .*gnp\.exe/, 'the readable part of the query is still shown');
	} finally {
		await app.cleanup();
		await admin_cancel(hostile);
		await running;
		await hostile.end();
	}
});

async function admin_cancel(client: pg.Client) {
	const admin = new pg.Client({connectionString: url});
	await admin.connect();
	await admin.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`);
	await admin.end();
	void client;
}
