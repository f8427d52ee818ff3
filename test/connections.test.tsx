import {test, type TestContext} from 'node:test';
import assert from 'node:assert/strict';
import {sortOrders, type ConnectionsData, type SortId} from '../source/db/connections.js';
import {defaultThresholds} from '../source/store/store.js';
import {sessionPool} from './helpers/backends.js';
import {plainRole, waitFor} from './helpers/db.js';
import {own} from './helpers/own.js';
import {keys, type RenderedApp} from './helpers/render.js';

// longer than the list carries (512 characters): Enter must fetch the rest
const longQuery = `SELECT pg_sleep(120), ${Array.from({length: 40}, (_, i) => `'value ${i}' AS column_${i}`).join(', ')}`;
const thresholds = {...defaultThresholds, hangingActiveMs: 300, hangingIdleTxMs: 300};

/**
 * Each test's own state: a database copied from the template with the app role's sessions in every state
 * and a lock chain on it, and a console on Connections filtered to that database; all gone after the test.
 */
async function setup(t: TestContext) {
	const {db, defer, app: console_} = await own(t, 'connections');
	const pool = sessionPool(db, defer);
	const appUrl = await plainRole(db, 'conn_app', 'conn_app');
	// opened side by side: each connection is a backend to start, slow on a busy machine
	const [idle, idleTx, sleeper, chain, app] = await Promise.all([
		Promise.all([pool.session('conn-idle-1', appUrl), pool.session('conn-idle-2', appUrl)]),
		pool.idleInTransaction('conn-idletx', appUrl),
		pool.sleeper('conn-sleep', {url: appUrl, sql: longQuery}),
		pool.lockChain('conn', 2),
		// filtered to the test's database from the start (typing a filter is tested below)
		console_({screen: 'connections', size: {columns: 160, rows: 60}, state: {intervalMs: 500, thresholds, ui: {connections: {filter: db.name}}}}),
		// enough sessions that the list scrolls
		...Array.from({length: 12}, (_, i) => pool.session(`conn-pad-${String(i).padStart(2, '0')}`, appUrl)),
	]);
	await app.waitForFrame(f => f.includes(`filter /${db.name}/`) && /^sessions \(v\)/m.test(f), 'the sessions of the filter');
	return {db, pool, appUrl, idle, idleTx, sleeper, chain, app};
}

const rowOf = (frame: string, pid: number) => frame.split('\n').find(l => new RegExp(`^[ ›][ *][ !~@] *${pid} `).test(l));
const selectedLine = (frame: string) => frame.split('\n').findIndex(l => l.startsWith('›'));
const listedPids = (frame: string) =>
	frame
		.split('\n')
		.map(l => /^[ ›][ *][ !~@] *(\d+) /.exec(l)?.[1])
		.filter((p): p is string => p !== undefined)
		.map(Number);

async function filterTo(a: RenderedApp, text: string) {
	await a.waitForFrame(/^sessions \(v\)/m);
	a.press('/');
	await a.waitForFrame(/Filter \(regex over user, application, database, query\)/);
	// a paste: one write, as a terminal delivers it
	a.press(text);
	await a.waitForFrame(f => f.includes(`query): ${text}`));
	a.press(keys.enter);
	await a.waitForFrame(f => f.includes(`filter /${text}/`));
}

/** Presses s, one key per shown change, until the list is sorted by `id`. */
async function sortBy(a: RenderedApp, id: SortId) {
	const sortTitle = (f: string) => / · sort (.+) [↑↓]/.exec(f)?.[1];
	const wanted = sortOrders.find(o => o.id === id)!.title;
	await a.waitForFrame(f => sortTitle(f) !== undefined, 'the sort order shown');
	for (let i = 0; i < sortOrders.length && sortTitle(a.lastFrame()) !== wanted; i++) {
		const before = sortTitle(a.lastFrame());
		a.press('s');
		await a.waitForFrame(f => sortTitle(f) !== before, `the sort after ${before}`);
	}
	return a.waitForFrame(f => sortTitle(f) === wanted, `sort ${wanted}`);
}

test('the list: every session of the database, hanging ones flagged, lock waiters, and this console marked', async t => {
	const {db, idle, idleTx, sleeper, chain, app} = await setup(t);
	// past the thresholds: the lock waiters are active long enough to be hanging too
	const frame = await app.waitForFrame(f => [sleeper.pid, idleTx.pid, ...chain.waiters.map(w => w.pid)].every(pid => rowOf(f, pid)?.[2] === '!'), 'hanging flags');
	assert.match(frame, new RegExp(`filter /${db.name}/ \\d+ of \\d+`));
	assert.match(rowOf(frame, sleeper.pid)!, /conn_app\s+conn-sleep\s+t_\S+\s+\S+\s+active\s+Timeout:Sleep\s.*SELECT pg_sleep\(120\), 'value 0' AS column_0/);
	assert.match(rowOf(frame, idleTx.pid)!, /conn-idletx .* idle in tx .*SELECT 1/);
	// the first waiter holds the row's tuple lock and waits for the blocker's transaction; the second waits for that tuple lock
	assert.match(rowOf(frame, chain.waiters[0]!.pid)!, /^[ ›] ! .* active\s+Lock:txid\s/);
	assert.match(rowOf(frame, chain.waiters[1]!.pid)!, /^[ ›] ! .* active\s+Lock:tuple\s/);
	assert.match(rowOf(frame, idle[0]!.pid)!, /^[ ›] {3}.* idle /);
	assert.match(rowOf(frame, app.monitor.state.backendPid!)!, /^[ ›] @ .*intowork-db/, 'own session marked, not hidden');
	assert.match(frame, /\d+ sessions: \d+ active · \d+ idle in tx · 2 waiting · \d+ hanging/);
});

test("the numbers are what SQL says: the runbook's GROUP BY datname, usename, and slots against max_connections", async t => {
	const {db, idleTx, sleeper, app} = await setup(t);
	await app.waitForFrame(f => [sleeper.pid, idleTx.pid].every(pid => rowOf(f, pid)?.[2] === '!'), 'the sleeper and the idle transaction past the hanging thresholds');
	const direct = await db.client.query<Record<string, string>>(
		`SELECT count(*) AS total,
			count(*) FILTER (WHERE state = 'active') AS active,
			count(*) FILTER (WHERE state = 'idle') AS idle,
			count(*) FILTER (WHERE state = 'idle in transaction') AS idle_tx,
			count(*) FILTER (WHERE state = 'idle in transaction (aborted)') AS aborted,
			count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
			count(*) FILTER (WHERE (state = 'active' AND now() - query_start > interval '300 ms')
				OR (state LIKE 'idle in transaction%' AND now() - state_change > interval '300 ms')) AS hanging
		FROM pg_stat_activity WHERE datname = current_database() AND usename = 'conn_app' AND backend_type = 'client backend'`,
	);
	const want = direct.rows[0]!;
	assert.deepEqual(want, {total: '16', active: '1', idle: '14', idle_tx: '1', aborted: '0', waiting: '0', hanging: '2'}, 'the seeded state');
	app.press('v');
	const frame = await app.waitForFrame(/^groups \(v\)/m);
	const row = new RegExp(`${db.name} / conn_app\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)`).exec(frame);
	assert.ok(row, 'the database / user group is listed');
	assert.deepEqual(row.slice(1, 8), [want.total, want.active, want.idle, want.idle_tx, want.aborted, want.waiting, want.hanging]);
	assert.match(frame, /conn-idletx\s+1\s+0\s+0\s+1 /, 'by application');
	const settings = await db.client.query<{usable: number}>(
		"SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int AS usable",
	);
	assert.match(frame, new RegExp(`Slots .* \\d+/${settings.rows[0]!.usable} \\d+% of max_connections`));
	assert.match(frame, /App pool .* \d+\/30 \S+, the role with most sessions/);
});

test('the lock tree: the blocker at the root, its waiters below it with how long they wait', async t => {
	const {chain, app} = await setup(t);
	// the views in turn: sessions, groups, locks
	app.press('v');
	await app.waitForFrame(/^groups \(v\)/m);
	app.press('v');
	const frame = await app.waitForFrame(f => /^locks \(v\)/m.test(f) && f.includes(String(chain.waiters[1]!.pid)));
	const lines = frame.split('\n');
	const root = lines.findIndex(l => new RegExp(`^[ ›] ${chain.blocker.pid} +postgres +conn-blocker +idle in tx +\\S+ +2 UPDATE jobs`).test(l));
	assert.ok(root >= 0, 'the blocker is a root, with 2 sessions behind it');
	assert.match(lines[root + 1]!, new RegExp(`^[ ›] └ ${chain.waiters[0]!.pid} +postgres +conn-waiter1 +active +\\d+(\\.\\d)?(ms|s) `));
	assert.match(lines[root + 2]!, new RegExp(`^[ ›]   └ ${chain.waiters[1]!.pid} +postgres +conn-waiter2 +active +\\d+(\\.\\d)?(ms|s) `));
});

test('s cycles the sort column and S reverses it', async t => {
	const {app} = await setup(t);
	let frame = await sortBy(app, 'pid');
	assert.match(frame, /sort pid ↑/);
	const up = listedPids(frame);
	assert.ok(up.length > 10);
	assert.deepEqual(up, [...up].sort((a, b) => a - b));
	app.press('S');
	frame = await app.waitForFrame(/sort pid ↓/);
	const down = listedPids(frame);
	assert.deepEqual(down, [...down].sort((a, b) => b - a));
	app.press('s');
	frame = await app.waitForFrame(/sort user ↑/);
});

test('the cursor stays on the same backend, on the same line, when a refresh brings rows above it', async t => {
	const {pool, appUrl, sleeper, app} = await setup(t);
	app.store.setState({size: {columns: 160, rows: 24}});
	await sortBy(app, 'application');
	app.press('G');
	await app.waitForFrame(f => selectedLine(f) > 0);
	// up to the sleeper, which sorts after the padding sessions
	for (let i = 0; i < 12 && !/conn-sleep/.test(app.lastFrame().split('\n')[selectedLine(app.lastFrame())] ?? ''); i++) {
		const before = app.lastFrame();
		app.press(keys.up);
		await app.waitForFrame(f => f !== before);
	}
	const before = app.lastFrame();
	const line = selectedLine(before);
	assert.match(before.split('\n')[line]!, new RegExp(`${sleeper.pid} .*conn-sleep`));
	await pool.session('conn-aaa', appUrl);
	await waitFor(() => (app.store.getState().data.connections?.value as ConnectionsData | undefined)?.backends.some(b => b.application === 'conn-aaa'));
	const after = await app.waitForFrame(f => f !== before && selectedLine(f) >= 0);
	assert.equal(selectedLine(after), line, 'the selected row has not moved on screen');
	assert.match(after.split('\n')[line]!, new RegExp(`${sleeper.pid} .*conn-sleep`), 'the same backend is selected');
});

test('Enter shows the whole query, pretty-printed, beyond what the list carries; Esc goes back', async t => {
	const {sleeper, app} = await setup(t);
	// the sleeper alone in the list, so it is the selected row
	app.press(keys.escape);
	await app.waitForFrame(f => !f.includes('filter /'), 'the filter cleared');
	await filterTo(app, 'conn-sleep');
	// flagged too: the sleeper is past the 300 ms threshold, so its details say HANGING (a quiet machine gets here sooner)
	await app.waitForFrame(f => new RegExp(`^›[ *]! *${sleeper.pid} `).test(f.split('\n').find(l => l.startsWith('›')) ?? ''), 'the sleeper selected, flagged hanging');
	app.press(keys.enter);
	let frame = await app.waitForFrame(/Session details \(↑\/↓ scroll/);
	assert.match(frame, new RegExp(`pid ${sleeper.pid}  HANGING: active for`));
	assert.match(frame, /application\s+conn-sleep/);
	assert.match(frame, /^SELECT$/m);
	assert.match(frame, /^ {2}pg_sleep\(120\),$/m);
	assert.match(frame, /^ {2}'value 12' AS column_12,$/m);
	// the end of the text, past the 512 characters the list carries
	app.press('G');
	frame = await app.waitForFrame(/^ {2}'value 39' AS column_39$/m);
	assert.doesNotMatch(frame, /HANGING/, 'scrolled');
	app.press(keys.escape);
	await app.waitForFrame(/^sessions \(v\)/m);
});

test('a filter that is not a regex is matched literally and says so; one that matches nothing says that; Esc clears it', async t => {
	const {sleeper, app} = await setup(t);
	app.press(keys.escape);
	await app.waitForFrame(f => !f.includes('filter /'));
	await filterTo(app, 'conn-(');
	const frame = await app.waitForFrame(/not a valid regex/);
	assert.match(frame, /No session matches \/conn-\(\/ \(Esc clears the filter\)/);
	app.press(keys.escape);
	await app.waitForFrame(f => !f.includes('filter /') && rowOf(f, sleeper.pid) !== undefined);
});
