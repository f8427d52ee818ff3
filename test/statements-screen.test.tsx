import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import chalk from 'chalk';
import stringWidth from 'string-width';
import {appQueries, appQueryContext} from '../source/db/app-queries.js';
import {loadStatements, type Statement, type StatementsReady} from '../source/db/statements.js';
import {readAudit} from '../source/audit.js';
import {formatMs} from '../source/format.js';
import {plainRole, testDatabase, waitFor, type TestDatabase} from './helpers/db.js';
import {own} from './helpers/own.js';
import {keys, type RenderedApp} from './helpers/render.js';
import {loadContext} from './statements-helpers.js';

// Colour on, so highlighting is part of what is asserted.
chalk.level = 1;
const red = '\u001B[31m';
const plain = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '');
const ctrlR = '\u0012';

/**
 * Each test's own state: a database copied from the template with its statistics reset, a state dir, and a
 * console on Queries with a long interval (the test decides when the second sample is taken, with Ctrl-R).
 * `measured`: the first sample taken, then the job list run 10 times and two slow statements, then the second;
 * `totals`: then m, the totals since the reset.
 */
async function setup(t: TestContext, options: {measured?: boolean; totals?: boolean} = {}) {
	const owned = await own(t, 'statements');
	const {db} = owned;
	const {rows} = await db.client.query<{oid: number}>('SELECT oid FROM pg_database WHERE datname = current_database()');
	const dbid = rows[0]!.oid;
	await db.client.query('SELECT pg_stat_statements_reset(0, $1, 0)', [dbid]);
	const app = await owned.app({screen: 'statements', size: {columns: 120, rows: 40}, state: {intervalMs: 60_000}});
	if (options.measured) {
		await waitPlain(app, /This interval \(measuring\)/, 'the first sample');
		await workload(db);
		app.press(ctrlR);
		await waitPlain(app, /This interval \(last [\d.]+m?s\)/, 'the second sample');
	}
	if (options.totals) {
		app.press('m');
		await waitPlain(app, /Totals since reset/);
	}
	return {...owned, dbid, app};
}

/** What the interval shows: the job list 10 times, and a statement slower than slowMeanMs twice. */
async function workload(db: TestDatabase) {
	const appCtx = await appQueryContext(db.client);
	for (let i = 0; i < 10; i++) await db.client.query(appQueries.job_list.sql, appQueries.job_list.params(appCtx, () => 0.3));
	await db.client.query('SELECT pg_sleep($1)', [0.12]);
	await db.client.query('SELECT pg_sleep($1)', [0.12]);
}

const lineWith = (frame: string, text: string) => frame.split('\n').find(l => plain(l).includes(text));
const dataRows = (frame: string) => plain(frame).split('\n').filter(l => /^[›\s][\s!]\s+\d/.test(l));
const waitPlain = (a: RenderedApp, re: RegExp, message?: string) => a.waitForFrame(f => re.test(plain(f)), message);

async function typeInto(a: RenderedApp, text: string) {
	await waitFor(() => a.store.getState().textCapture > 0);
	// one key at a time, each seen on screen, as a user types
	for (let n = 1; n <= text.length; n++) {
		a.press(text[n - 1]!);
		await waitPlain(a, new RegExp(`: ${text.slice(0, n).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
	}
}

const jobListStart = 'SELECT j.id, j.title';

test('interval mode first: measuring, then what ran, the slow statement red and marked', async t => {
	const {db, app} = await setup(t);
	await waitPlain(app, /This interval \(measuring\)/);
	assert.match(plain(app.lastFrame()), /the interval view needs a second sample/);
	await workload(db);
	app.press(ctrlR);
	const frame = await waitPlain(app, /This interval \(last [\d.]+m?s\)/);
	const slow = lineWith(frame, 'pg_sleep');
	const fast = lineWith(frame, jobListStart);
	assert.ok(slow && fast, plain(frame));
	assert.ok(slow.includes(red), 'mean above slowMeanMs is red');
	assert.match(plain(slow), /^[›\s]!/);
	assert.ok(!fast.includes(red));
	assert.match(plain(fast), /^[›\s] /);
	assert.match(plain(frame), /ms\/s↓\s+share\s+calls\/s\s+mean/);
});

test('m shows the totals since the reset, equal to pg_stat_statements', async t => {
	const {db, dbid, app} = await setup(t, {measured: true});
	app.press('m');
	const frame = await waitPlain(app, /Totals since reset/);
	const {rows} = await db.client.query<{total_exec_time: number; max_exec_time: number}>(
		`SELECT total_exec_time, max_exec_time FROM pg_stat_statements WHERE dbid = $1 AND query LIKE $2 || '%'`,
		[dbid, jobListStart],
	);
	const line = plain(lineWith(frame, jobListStart) ?? '');
	assert.match(line, new RegExp(`^[›\\s] +${formatMs(rows[0]!.total_exec_time).replace('.', '\\.')} +10 `));
	assert.ok(line.includes(formatMs(rows[0]!.max_exec_time)));
});

test('s sorts by total time, mean time, then calls', async t => {
	const {app} = await setup(t, {measured: true, totals: true});
	const first = (frame: string) => dataRows(frame)[0] ?? '';
	assert.match(first(app.lastFrame()), /pg_sleep/);
	app.press('s');
	let frame = await waitPlain(app, /by mean time/);
	assert.match(first(frame), /pg_sleep/);
	app.press('s');
	frame = await waitPlain(app, /by calls/);
	assert.match(first(frame), /SELECT j\.id, j\.title/);
	app.press('s');
	await waitPlain(app, /by total time/);
});

test('/ filters by text; no match says so; Esc clears', async t => {
	const {app} = await setup(t, {measured: true});
	app.press('/');
	await typeInto(app, 'views_count');
	app.press(keys.enter);
	let frame = await waitPlain(app, /Filter: views_count/);
	assert.equal(dataRows(frame).length, 1);
	assert.match(dataRows(frame)[0]!, /SELECT j\.id/);
	app.press(keys.escape);
	frame = await app.waitForFrame(f => !/Filter:/.test(plain(f)));
	assert.ok(dataRows(frame).length > 3);
	app.press('/');
	await typeInto(app, 'zzz_no_such');
	app.press(keys.enter);
	await waitPlain(app, /No statement matches "zzz_no_such"/);
	app.press(keys.escape);
	await app.waitForFrame(f => !/Filter:/.test(plain(f)));
});

test('Enter shows the whole normalized text, pretty-printed, and why there is no plan on 15', async t => {
	const {app} = await setup(t, {measured: true});
	app.press('/');
	await typeInto(app, 'views_count');
	app.press(keys.enter);
	await waitPlain(app, /Filter: views_count/);
	app.press(keys.enter);
	const frame = plain(await waitPlain(app, /Normalized text/));
	assert.match(frame, /Since reset: 10 calls/);
	assert.match(frame, /^ {2}FROM jobs j$/m);
	assert.match(frame, /^ {2}LIMIT \$5$/m);
	assert.match(frame, /Generic plan: needs PostgreSQL 16 or later/);
	app.press(keys.escape);
	await app.waitForFrame(f => /Filter: views_count/.test(plain(f)) && !/Normalized text/.test(plain(f)));
	app.press(keys.escape);
	await app.waitForFrame(f => !/Filter:/.test(plain(f)));
});

test('80x24: the essential columns, nothing past the edge', async t => {
	const {app} = await setup(t, {measured: true, totals: true});
	app.store.setState({size: {columns: 80, rows: 24}});
	const frame = await app.waitForFrame(f => plain(f).split('\n').every(l => stringWidth(l) <= 80), 'the frame fits 80 columns');
	assert.ok(plain(frame).split('\n').length <= 23);
	// the columns that do not fit at 80 are counted at the header's right end
	assert.match(plain(frame), /^ +total↓ +calls +mean +max +stddev +hit% +query +\+\d+$/m);
	assert.ok(lineWith(frame, 'pg_sleep'));
});

test('R resets this database only, after confirmation, and is audited', async t => {
	const {db, dbid, app, defer} = await setup(t, {measured: true});
	const other = await testDatabase({after: defer});
	await other.client.query('SELECT $1::int AS kept_elsewhere', [1]);
	app.press('R');
	const dialog = plain(await waitPlain(app, /Reset pg_stat_statements for database/));
	assert.match(dialog, /Clears the \d+ statements recorded for this database only;/);
	assert.match(dialog, /other databases on the server keep theirs\./);
	app.press('n');
	await app.waitForFrame(f => !/Reset pg_stat_statements for/.test(plain(f)));
	const {rows: still} = await db.client.query('SELECT 1 FROM pg_stat_statements WHERE dbid = $1 AND query LIKE $2', [dbid, `${jobListStart}%`]);
	assert.equal(still.length, 1, 'n changed nothing');
	app.press('R');
	await waitPlain(app, /Reset pg_stat_statements for database/);
	app.press('y');
	await waitPlain(app, /Query statistics of database t_\w+ reset; other databases kept theirs/);
	const {rows: ours} = await db.client.query('SELECT 1 FROM pg_stat_statements WHERE dbid = $1 AND query LIKE $2', [dbid, `${jobListStart}%`]);
	assert.equal(ours.length, 0);
	const {rows: theirs} = await other.client.query(
		"SELECT 1 FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE '%kept_elsewhere%'",
	);
	assert.equal(theirs.length, 1);
	const entry = readAudit({host: '127.0.0.1', port: db.info.port, database: db.name}).find(e => e.action === 'statements.reset');
	assert.equal(entry?.result, 'ok');
	assert.equal(entry?.detail?.dbid, dbid);
});

test('read-only: R does not exist', async t => {
	const owned = await own(t, 'statements');
	const ro = await owned.app({screen: 'statements', state: {readOnly: true, intervalMs: 60_000}});
	await waitPlain(ro, /This interval/);
	assert.doesNotMatch(plain(ro.lastFrame()), /reset stats/);
	ro.press('R');
	// keys are handled in order: once m has switched the mode, R has been handled too
	ro.press('m');
	await waitPlain(ro, /Totals since/);
	assert.equal(ro.store.getState().dialog, undefined);
});

test('without pg_read_all_stats: other roles\' statements summed per role, and the GRANT that shows them', async t => {
	const {db, app: console_} = await own(t, 'statements');
	// statements of postgres's in this database, for plain_user to see without their text
	await workload(db);
	const plainUrl = await plainRole(db);
	// wide enough for the summed row's text beside plain_user's own rows (each poll re-reads its capabilities)
	const app2 = await console_({screen: 'statements', size: {columns: 160, rows: 40}, state: {intervalMs: 60_000, ui: {statements: {mode: 'cumulative'}}}}, plainUrl);
	const frame = plain(await waitPlain(app2, /\(\d+ statements of postgres: text h/));
	assert.match(frame, /\d+ statements of other roles without their text: GRANT pg_read_all_stats TO "plain_user";/);
});

test('5,000 statements: only a screenful renders, and the cursor gets to the end', async t => {
	const {db, defer, app: console_} = await own(t, 'statements');
	const ctx = await loadContext(db.url, defer);
	const real = (await loadStatements(ctx, undefined)) as StatementsReady;
	assert.equal(real.kind, 'ready');
	const statements: Statement[] = Array.from({length: 5000}, (_, n) => ({
		key: `10/${n}/top`,
		userid: 10,
		role: 'app',
		queryid: String(n),
		toplevel: true,
		text: `SELECT statement_${String(n).padStart(4, '0')} FROM t WHERE id = $1`,
		calls: 5000 - n,
		totalMs: 5000 - n,
		meanMs: 1,
		maxMs: 2,
		stddevMs: 0.1,
		rows: 1,
		sharedHit: 1,
		sharedRead: 0,
		ioMs: 0,
	}));
	const big = await console_({screen: 'statements', size: {columns: 120, rows: 40}, state: {paused: true, ui: {statements: {mode: 'cumulative'}}}});
	big.store.setState({data: {statements: {value: {...real, statements}, at: Date.now()}}});
	let frame = await waitPlain(big, /5000 statements/);
	const height = dataRows(frame).length;
	assert.ok(height > 10 && height < 40, `${height} rows rendered`);
	assert.match(dataRows(frame)[0]!, /^› .*statement_0000/);
	big.press('G');
	frame = await waitPlain(big, /^› .*statement_4999/m);
	assert.equal(dataRows(frame).length, height);
	assert.doesNotMatch(plain(frame), /statement_0000/);
	big.press(keys.up);
	await waitPlain(big, /^› .*statement_4998/m);
});
