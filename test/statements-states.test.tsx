import assert from 'node:assert/strict';
import {after, test} from 'node:test';
import pg from 'pg';
import {loadStatements, resetStatements, type StatementsData, type StatementsReady, type StatementsUnavailable} from '../source/db/statements.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {testDatabase, waitFor} from './helpers/db.js';
import {renderApp} from './helpers/render.js';
import {loadContext} from './statements-helpers.js';

function unavailable(data: StatementsData): StatementsUnavailable {
	assert.equal(data.kind, 'unavailable');
	return data as StatementsUnavailable;
}

function ready(data: StatementsData): StatementsReady {
	assert.equal(data.kind, 'ready', data.kind === 'unavailable' ? `unavailable: ${data.caps.state}` : '');
	return data as StatementsReady;
}

// On the shared cluster (pg_stat_statements preloaded): databases without the extension, or with an old one.
const empty = await testDatabase({empty: true});
const old = await testDatabase({empty: true});
const ancient = await testDatabase({empty: true});
await old.client.query("CREATE EXTENSION pg_stat_statements VERSION '1.7'");
await ancient.client.query("CREATE EXTENSION pg_stat_statements VERSION '1.4'");
const emptyCtx = await loadContext(empty.url);
const oldCtx = await loadContext(old.url);
const ancientCtx = await loadContext(ancient.url);

// A server without pg_stat_statements in shared_preload_libraries, but another library there to keep.
// Set with ALTER SYSTEM rather than on the command line, which would override the fix under test.
const server = await startCluster(15, {preloadStatements: false, template: false});
after(() => stopCluster(server));
const setup = new pg.Client({connectionString: server.url()});
await setup.connect();
await setup.query("ALTER SYSTEM SET shared_preload_libraries = 'auto_explain'");
await setup.end();
await server.restart();
const admin = new pg.Client({connectionString: server.url()});
// the restart in the test drops it
admin.on('error', () => undefined);
await admin.connect();
after(() => admin.end().catch(() => undefined));
await admin.query('CREATE DATABASE nopreload');
const noPreloadCtx = await loadContext(server.url('nopreload'));

test('not created: the exact CREATE EXTENSION, on every refresh, without an error', async () => {
	const first = unavailable(await loadStatements(emptyCtx, undefined));
	assert.equal(first.caps.state, 'not-created');
	assert.deepEqual(first.fix, [`CREATE EXTENSION pg_stat_statements;  -- in database ${empty.name}, as a superuser`]);
	const second = unavailable(await loadStatements(emptyCtx, first));
	assert.equal(second.caps.state, 'not-created');
	// following the fix turns the screen on at the next refresh, without reconnecting
	await empty.client.query(first.fix[0]!);
	const third = ready(await loadStatements(emptyCtx, second));
	assert.equal(third.caps.state, 'ok');
	assert.equal(third.fix, undefined);
});

test('created at 1.7 before an upgrade: data from total_time, and the ALTER EXTENSION UPDATE', async () => {
	for (let i = 0; i < 4; i++) await old.client.query('SELECT $1::int + 1 AS old_version_probe', [i]);
	const data = ready(await loadStatements(oldCtx, undefined));
	assert.equal(data.caps.state, 'outdated');
	assert.equal(data.version, '1.7');
	assert.deepEqual(data.fix, [`ALTER EXTENSION pg_stat_statements UPDATE;  -- in database ${old.name}: 1.7 -> 1.10`]);
	const probe = data.statements.find(s => s.text.includes('old_version_probe'));
	assert.ok(probe);
	assert.equal(probe.calls, 4);
	const {rows} = await old.client.query<{total_time: number; mean_time: number}>(
		'SELECT total_time, mean_time FROM pg_stat_statements WHERE queryid = $1::bigint AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
		[probe.queryid],
	);
	assert.equal(probe.totalMs, rows[0]!.total_time);
	assert.equal(probe.meanMs, rows[0]!.mean_time);
	assert.equal(data.info, undefined, 'pg_stat_statements_info arrived in 1.9');
	await old.client.query(data.fix![0]!);
	const updated = ready(await loadStatements(oldCtx, data));
	assert.equal(updated.version, '1.10');
	assert.equal(updated.caps.state, 'ok');
	assert.ok(updated.info, 'pg_stat_statements_info once updated');
	assert.equal(updated.statements.find(s => s.key === probe.key)?.calls, 4, 'an update keeps the statistics');
});

test('created at 1.4: read, but a reset would clear every database, so it is refused', async () => {
	await ancient.client.query('SELECT $1::int AS ancient_probe', [1]);
	const data = ready(await loadStatements(ancientCtx, undefined));
	assert.equal(data.version, '1.4');
	const probe = data.statements.find(s => s.text.includes('ancient_probe'));
	assert.ok(probe?.toplevel, 'no toplevel column before 1.9: everything counts as top level');
	await assert.rejects(resetStatements(ancientCtx.db, data), /1\.4 can only reset every database at once; ALTER EXTENSION pg_stat_statements UPDATE first/);
	const after = ready(await loadStatements(ancientCtx, undefined));
	assert.equal(after.statements.find(s => s.key === probe.key)?.calls, 1, 'nothing was reset');
});

test('not preloaded: says so, keeps the other preloaded libraries in the fix, and recovers after the restart', async () => {
	const data = unavailable(await loadStatements(noPreloadCtx, undefined));
	assert.equal(data.caps.state, 'not-preloaded');
	assert.deepEqual(data.fix, [
		"ALTER SYSTEM SET shared_preload_libraries = 'auto_explain', 'pg_stat_statements';",
		'then restart PostgreSQL (a reload is not enough)',
		'then, in database nopreload: CREATE EXTENSION pg_stat_statements;',
	]);

	const app = await renderApp(server.url('nopreload'), {screen: 'statements', size: {columns: 100, rows: 30}, state: {intervalMs: 250}});
	try {
		const frame = await app.waitForFrame(/not in shared_preload_libraries/);
		assert.match(frame, /shared_preload_libraries is now 'auto_explain'/);
		assert.match(frame, /ALTER SYSTEM SET shared_preload_libraries = 'auto_explain', 'pg_stat_statements';/);
		assert.match(frame, /CREATE EXTENSION pg_stat_statements;/);
		// several refreshes later: still the state, never an error
		const at = app.store.getState().data.statements?.at ?? 0;
		await waitFor(() => (app.store.getState().data.statements?.at ?? 0) > at);
		assert.equal(app.store.getState().data.statements?.error, undefined);
		assert.doesNotMatch(app.lastFrame(), /STALE|Cannot load/);

		// the fix, as shown, works
		const db = new pg.Client({connectionString: server.url('nopreload')});
		await db.connect();
		await db.query('CREATE EXTENSION pg_stat_statements');
		await db.end();
		await admin.query(data.fix[0]!);
		await server.restart();
		await app.waitForFrame(/This interval/, 'the screen comes alive after the restart', 20_000);
		await waitFor(() => noPreloadCtx.monitor.state.status === 'live', {timeout: 20_000});
		const fixed = ready(await loadStatements(noPreloadCtx, data));
		assert.equal(fixed.caps.state, 'ok');
	} finally {
		await app.cleanup();
	}
});
