import {test} from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import {buildLockTree, summarize, type ConnectionsData} from '../source/db/connections.js';
import {defaultThresholds} from '../source/store/store.js';
import {fakeBackend, sessionPool} from './helpers/backends.js';
import {plainRole, testDatabase} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';

const db = await testDatabase();
const pool = sessionPool(db);
const blindUrl = await plainRole(db, 'conn_blind', 'conn_blind');
const thresholds = {...defaultThresholds, hangingActiveMs: 300, hangingIdleTxMs: 300};

// Other roles' sessions, which a role without pg_monitor sees only as pids.
await pool.idleInTransaction('states-idletx');
await pool.sleeper('states-sleep');
await pool.session('states-idle');

test('a role without pg_monitor: says what it cannot see, with the GRANT, and still counts every session', async () => {
	const app = await renderApp(blindUrl, {screen: 'connections', size: {columns: 160, rows: 50}, state: {intervalMs: 500, thresholds}});
	try {
		const frame = await app.waitForFrame(/sessions of other roles: state, query and client hidden \(counted above\)\. GRANT pg_monitor TO "conn_blind";/);
		const direct = await db.client.query<{n: string}>(
			"SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND usename = 'postgres' AND backend_type = 'client backend'",
		);
		app.press('v');
		const groups = await app.waitForFrame(/^groups \(v\)/m);
		const row = new RegExp(`${db.name} / postgres\\s+(\\d+)\\s+0\\s+0\\s+0\\s+0\\s+0\\s+0\\s+(\\d+)`).exec(groups);
		assert.ok(row, 'the superuser group: counted, every state unknown');
		assert.equal(row[1], direct.rows[0]!.n);
		assert.equal(row[2], direct.rows[0]!.n, 'all hidden');
		assert.match(frame, /\(hidden: GRANT pg_monitor\)/);
		assert.doesNotMatch(frame, /states-sleep.*active/, 'no state is made up');
		assert.match(frame, /0 hanging/, 'hidden sessions are never called hanging');
	} finally {
		await app.cleanup();
	}
});

test('errors: a failed first load says so; a failed refresh keeps the rows, marked STALE with the reason', async () => {
	const app = await renderApp(blindUrl, {screen: 'connections', size: {columns: 160, rows: 50}, state: {intervalMs: 500, thresholds}});
	try {
		await app.waitForFrame(/states-idle|sessions \(v\)/);
		// A hardened server: this database no longer lets PUBLIC read pg_stat_activity.
		await db.client.query('REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC');
		const stale = await app.waitForFrame(/STALE: data from \d\d:\d\d:\d\d · last refresh failed: permission denied for view pg_stat_activity/);
		assert.match(stale, /sessions \(v\)/, 'the last rows stay on screen');
		const fresh = await renderApp(blindUrl, {screen: 'connections', state: {intervalMs: 500, thresholds}});
		try {
			await fresh.waitForFrame(/Cannot load: permission denied for view pg_stat_activity/);
		} finally {
			await fresh.cleanup();
		}
	} finally {
		await db.client.query('GRANT SELECT ON pg_catalog.pg_stat_activity TO PUBLIC');
		await app.cleanup();
	}
});

test('80x24: nothing wider than the terminal, the columns that matter kept, hanging still flagged', async () => {
	const app = await renderApp(db.url, {screen: 'connections', size: {columns: 80, rows: 24}, state: {intervalMs: 500, thresholds}});
	try {
		const frame = await app.waitForFrame(f => /!\s+\d+ .*states-sleep/.test(f));
		const lines = frame.split('\n');
		assert.ok(lines.length <= 24, `${lines.length} lines`);
		for (const line of lines) assert.ok(stringWidth(line) <= 80, `too wide: ${line}`);
		assert.match(frame, /^ {4,}pid application\s+state\s+xact age↓ qry age query\s+\+5$/m, "user, database, client and wait make room first");
		assert.match(frame, /Slots .*\/\d+/);
		assert.match(frame, /App pool/);
		assert.match(frame, /2 Connections/);
	} finally {
		await app.cleanup();
	}
});

test('10,000 backends: only the visible rows are rendered, and the cursor, filter and sort work on all of them', async () => {
	const app = await renderApp(db.url, {screen: 'connections', size: {columns: 120, rows: 30}, state: {paused: true}});
	try {
		const backends = Array.from({length: 10_000}, (_, i) =>
			fakeBackend(100_000 + i, {application: `app-${i % 37}`, state: i % 3 ? 'idle' : 'active', query: `SELECT ${i}`, xactMs: i}),
		);
		const value: ConnectionsData = {
			backends,
			summary: summarize(backends, 0, {maxConnections: 12_000, reserved: 3}),
			lockTree: buildLockTree(backends),
			thresholds,
		};
		app.store.setState(s => ({data: {...s.data, connections: {value, at: Date.now()}}}));
		let frame = await app.waitForFrame(/10000 sessions/);
		const rowLines = (f: string) => f.split('\n').filter(l => / SELECT \d+$/.test(l));
		const height = rowLines(frame).length;
		assert.ok(height > 5 && height < 30, `${height} rows rendered`);
		assert.match(rowLines(frame)[0]!, /^› +109999 .*SELECT 9999$/, 'longest transaction first');
		app.press('G');
		frame = await app.waitForFrame(f => /^› +100000 .*SELECT 0$/m.test(f));
		assert.equal(rowLines(frame).length, height);
		app.press(keys.up);
		frame = await app.waitForFrame(f => /^› +100001 /m.test(f));
		app.press('/');
		await app.waitForFrame(/Filter \(regex/);
		app.press('^SELECT 4242$');
		// the filter applies while typing
		frame = await app.waitForFrame(f => rowLines(f).length === 1);
		assert.match(rowLines(frame)[0]!, /^› +104242 /);
		app.press(keys.enter);
		await app.waitForFrame(/filter \/\^SELECT 4242\$\/ 1 of 10000/);
		app.press(keys.escape);
		await app.waitForFrame(f => !f.includes('filter /'));
		app.press('S');
		frame = await app.waitForFrame(/sort transaction age ↑/);
		assert.match(rowLines(frame)[0]!, / 100000 /);
	} finally {
		await app.cleanup();
	}
});
