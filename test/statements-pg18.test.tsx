import assert from 'node:assert/strict';
import {after, test} from 'node:test';
import pg from 'pg';
import {genericPlan, loadStatements, resetStatements, type StatementsData, type StatementsReady} from '../source/db/statements.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {waitFor} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';
import {loadContext} from './statements-helpers.js';

function ready(data: StatementsData): StatementsReady {
	assert.equal(data.kind, 'ready', data.kind === 'unavailable' ? `unavailable: ${data.caps.state}` : '');
	return data as StatementsReady;
}

// PostgreSQL 18 ships pg_stat_statements 1.12: shared_blk_*_time, stats_since, the four-argument reset.
const server = await startCluster(18, {template: false});
after(() => stopCluster(server));
const admin = new pg.Client({connectionString: server.url()});
await admin.connect();
await admin.query('CREATE DATABASE pg18');
await admin.query('CREATE DATABASE pg18_other');
await admin.end();
const client = new pg.Client({connectionString: server.url('pg18')});
// the cluster may stop before this client ends
client.on('error', () => undefined);
await client.connect();
after(() => client.end());
await client.query('CREATE EXTENSION pg_stat_statements');
await client.query('CREATE TABLE probe (id int PRIMARY KEY, note text)');
await client.query("INSERT INTO probe SELECT g, 'n' || g FROM generate_series(1, 500) g");
await client.query('CREATE TABLE written (id int)');
// Planning folds IMMUTABLE functions: a mislabelled one that writes (through a volatile helper,
// as PL/pgSQL refuses a direct INSERT there), and one that takes long.
await client.query(`CREATE FUNCTION writer() RETURNS void LANGUAGE plpgsql AS $$ BEGIN INSERT INTO written VALUES (1); END $$`);
await client.query(`CREATE FUNCTION sneaky() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM writer(); RETURN 1; END $$`);
await client.query(`CREATE FUNCTION slow() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(5); RETURN 1; END $$`);
const ctx = await loadContext(server.url('pg18'));
const probeSql = 'SELECT id, note FROM probe WHERE id = $1';

test('1.12 columns: numbers equal the view, stats_since and pg_stat_statements_info', async () => {
	for (let i = 1; i <= 6; i++) await client.query(probeSql, [i]);
	const data = ready(await loadStatements(ctx, undefined));
	assert.equal(ctx.caps.major, 18);
	assert.equal(data.version, '1.12');
	const s = data.statements.find(x => x.text === probeSql);
	assert.ok(s);
	const {rows} = await client.query<{calls: string; total_exec_time: number; io: number; stats_since: Date}>(
		`SELECT calls, total_exec_time, shared_blk_read_time + shared_blk_write_time + local_blk_read_time + local_blk_write_time AS io, stats_since
		FROM pg_stat_statements WHERE queryid = $1::bigint AND toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		[s.queryid],
	);
	assert.equal(s.calls, 6);
	assert.equal(s.totalMs, rows[0]!.total_exec_time);
	assert.equal(s.ioMs, rows[0]!.io);
	assert.equal(s.since, rows[0]!.stats_since.getTime());
	assert.ok(data.info && data.info.dealloc === 0);
});

test('generic plan: EXPLAIN (GENERIC_PLAN) of the normalized text', async () => {
	const plan = await genericPlan(ctx.db, 18, probeSql);
	assert.ok('plan' in plan, JSON.stringify(plan));
	assert.match(plan.plan.join('\n'), /Index Scan using probe_pkey on probe/);
	assert.match(plan.plan.join('\n'), /Index Cond: \(id = \$1\)/);
	const update = await genericPlan(ctx.db, 18, 'UPDATE probe SET note = $2 WHERE id = $1');
	assert.ok('plan' in update && /Update on probe/.test(update.plan.join('\n')));
	const {rows} = await client.query("SELECT count(*)::int AS n FROM probe WHERE note = 'n' || id");
	assert.equal(rows[0].n, 500, 'explaining an UPDATE changed nothing');
});

test('generic plan: planning runs read-only, under its own timeout, one statement only', async () => {
	const sneaky = await genericPlan(ctx.db, 18, 'SELECT sneaky() FROM probe WHERE id = $1');
	assert.ok('error' in sneaky && /read-only transaction/.test(sneaky.error), JSON.stringify(sneaky));
	const slow = await genericPlan(ctx.db, 18, 'SELECT slow() FROM probe WHERE id = $1', 200);
	assert.ok('error' in slow && /statement timeout/.test(slow.error), JSON.stringify(slow));
	const twice = await genericPlan(ctx.db, 18, 'SELECT 1; COMMIT; INSERT INTO written VALUES (2)');
	assert.ok('unavailable' in twice);
	const utility = await genericPlan(ctx.db, 18, 'VACUUM probe');
	assert.ok('unavailable' in utility && /VACUUM statements have no plan/.test(utility.unavailable));
	const {rows} = await client.query('SELECT count(*)::int AS n FROM written');
	assert.equal(rows[0].n, 0);
	// the monitor is usable afterwards: nothing was left open on it
	const {rows: state} = await ctx.db.query<{transaction_read_only: string}>('SHOW transaction_read_only');
	assert.equal(state[0]!.transaction_read_only, 'off');
});

test('the four-argument reset clears this database only', async () => {
	const other = new pg.Client({connectionString: server.url('pg18_other')});
	await other.connect();
	await other.query('CREATE EXTENSION pg_stat_statements');
	await other.query('SELECT $1::int AS other_marker', [1]);
	const data = ready(await loadStatements(ctx, undefined));
	await resetStatements(ctx.db, data);
	const after = ready(await loadStatements(ctx, undefined));
	assert.ok(!after.statements.some(s => s.text === probeSql));
	const {rows} = await other.query("SELECT count(*)::int AS n FROM pg_stat_statements WHERE query LIKE '%other_marker%'");
	await other.end();
	assert.equal(rows[0].n, 1);
});

test('Enter shows the pretty-printed text and the generic plan', async () => {
	for (let i = 1; i <= 3; i++) await client.query(probeSql, [i]);
	const app = await renderApp(server.url('pg18'), {screen: 'statements', size: {columns: 100, rows: 30}, state: {intervalMs: 250}});
	try {
		app.press('m');
		await app.waitForFrame(/Totals since reset/);
		app.press('/');
		await waitFor(() => app.store.getState().textCapture > 0);
		const typed = 'probe';
		for (let n = 1; n <= typed.length; n++) {
			app.press(typed[n - 1]!);
			await app.waitForFrame(f => f.includes(`Filter (text, role or query id): ${typed.slice(0, n)}`));
		}
		app.press(keys.enter);
		await app.waitForFrame(/Filter: probe/);
		app.press(keys.enter);
		const frame = await app.waitForFrame(/Index Cond: \(id = \$1\)/);
		assert.match(frame, /\n *\nNormalized text/);
		// the plan keeps its tree indentation
		assert.match(frame, /^ {2}Index Scan using probe_pkey on probe/m);
		assert.match(frame, /^ {4}Index Cond: \(id = \$1\)/m);
		assert.match(frame, /Generic plan \(EXPLAIN \(GENERIC_PLAN\), read-only transaction\)/);
		assert.match(frame, /Since reset: 3 calls/);
		app.press(keys.escape);
		await app.waitForFrame(f => /Filter: probe/.test(f) && !/Normalized text/.test(f));
	} finally {
		await app.cleanup();
	}
});
