import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {stripVTControlCharacters} from 'node:util';
import {after, test} from 'node:test';
import pg from 'pg';
import {defaultAlertThresholds} from '../source/alerts/settings.js';
import {detectCapabilities} from '../source/db/capabilities.js';
import {redactTarget, resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {Fleet, openSecondaryTargets, type FleetState} from '../source/fleet/fleet.js';
import {cacheRoot, freePort} from '../source/demo/pg-server.js';
import {startPgbouncer} from '../source/demo/pgbouncer.js';
import {defaultThresholds, setUi} from '../source/store/store.js';
import {testDatabase, waitFor} from './helpers/db.js';
import {renderApp} from './helpers/render.js';
import {fakeBackend} from './helpers/backends.js';
import {markBouncerSessions} from '../source/components/pgbouncer-mark.js';
import type {Column} from '../source/components/table.js';
import type {Backend} from '../source/db/connections.js';

// A real pgBouncer (the Debian package) with a pool of one in front of the test database.

const db = await testDatabase();
const dir = path.join(cacheRoot(), 'test', `pgbouncer-${process.pid}`);
const bouncer = await startPgbouncer({dir, port: await freePort(), upstreamPort: db.info.port, database: db.name, users: [{name: db.info.user, password: db.info.password}], poolSize: 1});

const target = resolveTarget({dsn: db.url, env: {}});
const monitor = new Monitor(target);
await monitor.connect();
const caps = await detectCapabilities(monitor);
const fleet = new Fleet([{name: 'primary', kind: 'primary', target, redacted: redactTarget(target), monitor, caps}, ...openSecondaryTargets({replicas: [], pgbouncer: bouncer.adminUrl})], {
	intervalMs: () => 250,
	hanging: () => ({activeMs: defaultThresholds.hangingActiveMs, idleTxMs: defaultThresholds.hangingIdleTxMs}),
	alerts: defaultAlertThresholds,
	bouncerDetail: () => true,
});
await fleet.start();
const clients: pg.Client[] = [];

after(async () => {
	await Promise.all(clients.map(c => c.end().catch(() => undefined)));
	await fleet.stop();
	await monitor.close();
	await bouncer.stop();
	fs.rmSync(dir, {recursive: true, force: true});
});

const status = () => fleet.state().targets.find(t => t.kind === 'pgbouncer')!;
const firing = () => fleet.state().alerts.find(a => a.key === 'pgbouncer:waiting');

test('the admin console: pools, config, servers; nothing waits while the pool is big enough', async () => {
	const b = (await waitFor(() => status().bouncer?.detail && status().bouncer, {message: 'a detailed sample'}))!;
	assert.equal(status().connection.status, 'live');
	assert.match(status().version ?? '', /PgBouncer 1\.\d+/);
	assert.equal(b.detail!.config.defaultPoolSize, 1);
	assert.equal(b.detail!.config.poolMode, 'transaction');
	assert.equal(b.waiting, 0);
	assert.equal(firing(), undefined);
});

test('three clients on a pool of one: two wait, maxwait rises, the alert fires; it clears when they are served', async () => {
	const running: Array<Promise<unknown>> = [];
	for (let i = 0; i < 3; i++) {
		const c = new pg.Client({connectionString: bouncer.url(db.info.user, db.info.password), application_name: `bouncer-test-${i}`});
		c.on('error', () => undefined);
		await c.connect();
		clients.push(c);
		running.push(c.query('SELECT pg_sleep(3)'));
	}
	const b = (await waitFor(() => ((status().bouncer?.waiting ?? 0) >= 2 ? status().bouncer : undefined), {timeout: 10_000, message: 'two clients waiting'}))!;
	const pool = b.pools.find(p => p.database === db.name)!;
	assert.equal(pool.clActive, 1);
	assert.equal(pool.clWaiting, 2);
	assert.equal(pool.svActive, 1);
	await waitFor(() => (status().bouncer?.maxwaitSeconds ?? 0) >= 1, {timeout: 10_000, message: 'maxwait past a second'});
	const alert = (await waitFor(firing, {message: 'the waiting alert'}))!;
	assert.match(alert.text, /^pgbouncer [12] clients? waiting \(maxwait \d+\.\ds\)$/);
	// the session pgBouncer opened is the primary's client at the address and port SHOW SERVERS gives
	const server = status().bouncer!.servers.find(s => s.database === db.name)!;
	const r = await db.client.query('SELECT host(client_addr) AS addr, client_port AS port FROM pg_stat_activity WHERE client_port = $1 AND datname = current_database()', [server.localPort]);
	assert.deepEqual(r.rows, [{addr: server.localAddr, port: server.localPort}]);
	// so the Connections screen marks that session as pgBouncer's
	const client: Column<Backend> = {key: 'client', title: 'client', width: 15, value: b => b.clientAddr ?? '-'};
	const [marked] = markBouncerSessions([client], status().bouncer!.servers);
	const [session] = r.rows;
	assert.ok(session);
	assert.equal(marked!.value(fakeBackend(1, {clientAddr: session.addr, clientPort: session.port})), 'pgbouncer');
	assert.equal(marked!.value(fakeBackend(2, {clientAddr: '127.0.0.1', clientPort: 1})), '127.0.0.1');
	await Promise.all(running);
	await waitFor(() => status().bouncer?.waiting === 0 && !firing(), {timeout: 10_000, message: 'the alert clears'});
	const rates = (await waitFor(() => status().bouncer?.detail?.rates?.[db.name], {message: 'rates'}))!;
	assert.ok(rates.xactsPerSecond >= 0);
});

test('the Connections screen, rendered: the session pgBouncer opened says pgbouncer in its client column, a direct one its address', async () => {
	// pgBouncer keeps its server connection open after the client's query: that is the session to mark
	const c = new pg.Client({connectionString: bouncer.url(db.info.user, db.info.password), application_name: 'bouncer-render'});
	c.on('error', () => undefined);
	await c.connect();
	clients.push(c);
	await c.query('SELECT 1');
	const server = (await waitFor(() => status().bouncer?.servers.find(s => s.database === db.name), {message: 'a server connection in SHOW SERVERS'}))!;
	const viaBouncer = await db.client.query<{pid: number}>('SELECT pid FROM pg_stat_activity WHERE client_port = $1 AND host(client_addr) = $2', [server.localPort, server.localAddr]);
	const bouncerPid = viaBouncer.rows[0]!.pid;
	const direct = (await db.client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
	const app = await renderApp(db.url, {screen: 'connections', size: {columns: 200, rows: 50}, state: {fleet: fleet.state()}});
	const follow = (state: FleetState) => app.store.setState({fleet: state});
	fleet.on('update', follow);
	try {
		// this test's database only: the shared cluster holds other files' sessions too
		setUi(app.store, 'connections', {filter: db.name});
		const row = (frame: string, pid: number) => stripVTControlCharacters(frame).split('\n').find(l => new RegExp(`^[›\\s][* ][!~@ ]\\s*${pid} `).test(l));
		const frame = await app.waitForFrame(f => / client /.test(f) && / pgbouncer /.test(row(f, bouncerPid) ?? '') && row(f, direct) !== undefined, 'the pgBouncer session marked in the list');
		assert.match(row(frame, direct)!, / 127\.0\.0\.1 /, 'a session of its own keeps its address');
		assert.doesNotMatch(row(frame, direct)!, /pgbouncer/);
	} finally {
		fleet.off('update', follow);
		await app.cleanup();
	}
});
