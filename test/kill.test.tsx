import {test, type TestContext} from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {readAudit} from '../source/audit.js';
import {defaultThresholds, type AppState} from '../source/store/store.js';
import {sessionPool} from './helpers/backends.js';
import {plainRole} from './helpers/db.js';
import {own} from './helpers/own.js';
import {keys, type RenderedApp} from './helpers/render.js';

const thresholds = {...defaultThresholds, hangingActiveMs: 300, hangingIdleTxMs: 300};

/** Each test's own database, state dir (its audit log), sessions and console. */
async function setup(t: TestContext, appState: Partial<AppState> = {}) {
	const o = await own(t, 'kill-ui');
	const pool = sessionPool(o.db, o.defer);
	const appUrl = await plainRole(o.db, 'kill_ui_app', 'kill_ui_app');
	const app = await o.app({screen: 'connections', size: {columns: 160, rows: 50}, state: {intervalMs: 500, thresholds, ...appState}});
	const auditKey = {host: '127.0.0.1', port: o.db.info.port, database: o.db.name};
	/** what the audit log holds for one application's sessions; every entry says who, on what, from where */
	const audited = (application: string) => {
		const entries = readAudit(auditKey);
		for (const e of entries) {
			assert.equal(e.osUser, os.userInfo().username);
			assert.match(e.target, /:\*\*\*@127\.0\.0\.1:\d+\/t_/);
			assert.equal(e.detail?.via, 'console');
		}
		return entries.filter(e => e.detail?.application === application);
	};
	return {db: o.db, openConsole: o.app, pool, appUrl, app, auditKey, audited};
}

const selected = (frame: string) => frame.split('\n').find(l => l.startsWith('›')) ?? '';

/** Move the cursor down (at most `limit` rows) until it is on `pid`: tests act only on backends they started. */
async function cursorTo(a: RenderedApp, pid: number, limit = 30) {
	for (let i = 0; i < limit && !selected(a.lastFrame()).includes(` ${pid} `); i++) {
		const before = a.lastFrame();
		a.press(keys.down);
		await a.waitForFrame(f => f !== before);
	}
	assert.ok(selected(a.lastFrame()).includes(` ${pid} `), `the cursor is on pid ${pid}`);
}

/** Filter the list down to sessions whose application matches, with the cursor on `pid`. */
async function only(a: RenderedApp, regex: string, pid: number) {
	await a.waitForFrame(/^sessions \(v\)/m);
	a.press('/');
	await a.waitForFrame(/Filter \(regex/);
	a.press(regex);
	await a.waitForFrame(f => f.includes(`query): ${regex}`));
	a.press(keys.enter);
	await a.waitForFrame(f => f.includes(`filter /${regex}/`) && f.includes(` ${pid} `));
	a.press('g');
	await a.waitForFrame(f => selected(f) !== '');
	await cursorTo(a, pid);
}

async function typeIn(a: RenderedApp, text: string) {
	const before = a.lastFrame();
	a.press(text);
	await a.waitForFrame(f => f !== before && f.includes(`: ${text}`));
}

test('c: the dialog lists the target before anything is sent; y cancels the real query and the result is shown', async t => {
	const {pool, appUrl, app, audited} = await setup(t);
	const s = await pool.sleeper('kill-sleep', {url: appUrl});
	await only(app, '^kill-sleep$', s.pid);
	app.press('c');
	const dialog = await app.waitForFrame(/Cancel 1 session\?/);
	assert.match(dialog, new RegExp(`│ pid ${s.pid}  kill_ui_app  kill-sleep  active \\S+  query start \\d\\d:\\d\\d:\\d\\d +│\\n│ +SELECT pg_sleep\\(120\\) +│`));
	assert.match(dialog, /pg_cancel_backend: the running query stops with an error; the session stays connected\./);
	assert.equal((await pool.stateOf(s.pid))?.state, 'active', 'nothing sent yet');
	app.press('y');
	const done = await app.waitForFrame(new RegExp(`pid ${s.pid} kill_ui_app kill-sleep: cancelled`));
	assert.match(done, /Cancel: 1 cancelled/);
	assert.equal((await s.running.done)?.code, '57014');
	assert.equal((await pool.stateOf(s.pid))?.state, 'idle', 'the session stays');
	assert.deepEqual(
		audited('kill-sleep').map(e => [e.action, e.result, e.query]),
		[['cancel', 'cancelled', 'SELECT pg_sleep(120)']],
	);
});

test('k: an idle-in-transaction session is terminated and gone from the server; n instead sends nothing', async t => {
	const {pool, appUrl, app, audited} = await setup(t);
	const s = await pool.idleInTransaction('kill-idletx', appUrl);
	await only(app, '^kill-idletx$', s.pid);
	app.press('k');
	await app.waitForFrame(/Terminate 1 session\?/);
	app.press('n');
	await app.waitForFrame(/Nothing was sent\./);
	assert.equal((await pool.stateOf(s.pid))?.state, 'idle in transaction');
	app.press('k');
	const dialog = await app.waitForFrame(/Terminate 1 session\?/);
	assert.match(dialog, /the session ends and its open transaction rolls back/);
	app.press('y');
	await app.waitForFrame(new RegExp(`pid ${s.pid} kill_ui_app kill-idletx: terminated`));
	assert.ok(await pool.gone(s.pid));
	assert.deepEqual(
		audited('kill-idletx').map(e => [e.action, e.result]),
		[['terminate', 'terminated']],
	);
});

test('H tags the hanging sessions; terminating several asks for the count typed, and a wrong answer does nothing', async t => {
	const {pool, appUrl, app, audited} = await setup(t);
	const a = await pool.sleeper('kill-multi-a', {url: appUrl});
	const b = await pool.idleInTransaction('kill-multi-b', appUrl);
	const c = await pool.session('kill-multi-c', appUrl);
	await only(app, '^kill-multi', c.pid);
	await app.waitForFrame(f => f.split('\n').filter(l => /^[ ›] ! .*kill-multi-[ab]/.test(l)).length === 2);
	app.press('H');
	const tagged = await app.waitForFrame(/2 tagged/);
	assert.match(tagged, /Tagged 2 hanging sessions \(of those the filter shows\)/);
	assert.equal(tagged.split('\n').filter(l => /^[ ›]\*! /.test(l)).length, 2);
	// Space tags and untags the selected row
	await cursorTo(app, c.pid);
	app.press(keys.space);
	assert.match(selected(await app.waitForFrame(/3 tagged/)), new RegExp(`^›\\*  +${c.pid} `));
	app.press(keys.space);
	await app.waitForFrame(/2 tagged/);
	app.press('k');
	const dialog = await app.waitForFrame(/Type 2 to terminate, Esc to cancel/);
	assert.match(dialog, /Terminate 2 sessions\?/);
	assert.match(dialog, new RegExp(`pid ${a.pid} .*kill-multi-a  active`));
	assert.match(dialog, new RegExp(`pid ${b.pid} .*kill-multi-b  idle in tx`));
	await typeIn(app, 'y');
	app.press(keys.enter);
	await app.waitForFrame(/That is not 2; nothing was done\./);
	assert.equal((await pool.stateOf(a.pid))?.state, 'active');
	const before = app.lastFrame();
	app.press(keys.backspace);
	await app.waitForFrame(f => f !== before);
	await typeIn(app, '2');
	app.press(keys.enter);
	const done = await app.waitForFrame(/Terminate: 2 terminated/);
	assert.match(done, new RegExp(`pid ${a.pid} kill_ui_app kill-multi-a: terminated`));
	assert.ok(await pool.gone(a.pid));
	assert.ok(await pool.gone(b.pid));
	assert.ok(!(await pool.gone(c.pid)), 'the untagged one is untouched');
	assert.equal(audited('kill-multi-a').length + audited('kill-multi-b').length, 2);
	assert.equal(audited('kill-multi-c').length, 0, 'nothing for what was not touched');
});

test("protected: a console operation's session needs yes typed and says why", async t => {
	const {pool, app} = await setup(t);
	const s = await pool.sleeper('intowork-db/kill-test-op');
	await only(app, '^intowork-db/kill-test-op$', s.pid);
	app.press('k');
	const dialog = await app.waitForFrame(/Type yes to terminate/);
	assert.match(dialog, new RegExp(`⚠ pid ${s.pid} protected, an intowork-db operation \\(intowork-db/kill-test-op\\): it fails half-way`));
	await typeIn(app, 'yes');
	app.press(keys.enter);
	await app.waitForFrame(new RegExp(`pid ${s.pid} postgres intowork-db/kill-test-op: terminated`));
	assert.ok(await pool.gone(s.pid));
});

test("the console's own session is refused, with the reason, and the refusal is logged", async t => {
	const {app, auditKey} = await setup(t);
	const own = app.monitor.state.backendPid!;
	await only(app, '^intowork-db$', own);
	assert.match(selected(app.lastFrame()), new RegExp(`^› @ +${own} `));
	app.press('k');
	const frame = await app.waitForFrame(new RegExp(`pid ${own} postgres intowork-db: refused \\(this console's own monitoring session\\)`));
	assert.doesNotMatch(frame, /Terminate 1 session\?/, 'no dialog: there is nothing to confirm');
	assert.equal(app.monitor.state.status, 'live');
	assert.equal(app.monitor.state.backendPid, own);
	const entry = readAudit(auditKey)
		.filter(e => e.pids?.[0] === own)
		.at(-1);
	assert.equal(entry?.action, 'refuse');
	assert.equal(entry?.result, "refused: this console's own monitoring session");
	assert.equal(entry?.detail?.requested, 'terminate');
});

test('a cancel that does not stop the query: after a few seconds the console offers terminate', async t => {
	const {pool, appUrl, app, audited} = await setup(t);
	const s = await pool.sleeper('kill-stubborn', {
		url: appUrl,
		sql: 'DO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$',
	});
	await only(app, '^kill-stubborn$', s.pid);
	app.press('c');
	await app.waitForFrame(/Cancel 1 session\?/);
	app.press('y');
	await app.waitForFrame(/Cancel: 1 cancelled/);
	const offer = await app.waitForFrame(/Still running 3\.0s after the cancel: terminate 1 session\?/);
	assert.match(offer, new RegExp(`pid ${s.pid}  kill_ui_app  kill-stubborn`));
	app.press('y');
	await app.waitForFrame(/Terminate: 1 terminated/);
	assert.ok(await pool.gone(s.pid));
	assert.deepEqual(
		audited('kill-stubborn').map(e => [e.action, e.result]),
		[
			['cancel', 'cancelled'],
			['terminate', 'terminated'],
		],
	);
});

test('a blocker in the lock tree: the dialog says how many waiters it releases, and they go on', async t => {
	const {pool, app} = await setup(t);
	const chain = await pool.lockChain('kill-lock', 2);
	app.press('v');
	app.press('v');
	await app.waitForFrame(f => /^locks \(v\)/m.test(f) && f.includes(` ${chain.waiters[1]!.pid} `));
	await cursorTo(app, chain.blocker.pid);
	assert.match(selected(app.lastFrame()), new RegExp(`^› ${chain.blocker.pid} +postgres +kill-lock-blocker`));
	app.press('k');
	const dialog = await app.waitForFrame(/Terminate 1 session\?/);
	assert.match(dialog, new RegExp(`pid ${chain.blocker.pid} blocks 2 sessions \\(1 directly\\); ending it frees 1 now`));
	app.press('y');
	await app.waitForFrame(new RegExp(`pid ${chain.blocker.pid} postgres kill-lock-blocker: terminated`));
	assert.equal(await chain.waiters[0]!.running.done, undefined, 'the first waiter got its row');
	assert.equal(await chain.waiters[1]!.running.done, undefined, 'and the second after it');
	app.press('v');
	await app.waitForFrame(/^sessions \(v\)/m);
});

test("a role without pg_signal_backend: 'permission denied' with the GRANT, and the session lives on", async t => {
	const {pool, appUrl, audited, db, openConsole: consoleOn} = await setup(t);
	const monitorUrl = await plainRole(db, 'kill_ui_monitor', 'kill_ui_monitor');
	await db.client.query('GRANT pg_monitor TO kill_ui_monitor');
	const victim = await pool.sleeper('kill-victim', {url: appUrl});
	const ops = await consoleOn({screen: 'connections', size: {columns: 200, rows: 40}, state: {intervalMs: 500, thresholds}}, monitorUrl);
	await only(ops, '^kill-victim$', victim.pid);
	ops.press('k');
	await ops.waitForFrame(/Terminate 1 session\?/);
	ops.press('y');
	await ops.waitForFrame(new RegExp(`pid ${victim.pid} kill_ui_app kill-victim: permission denied \\(GRANT pg_signal_backend TO "kill_ui_monitor";`));
	assert.equal((await pool.stateOf(victim.pid))?.state, 'active');
	const denied = audited('kill-victim')[0];
	assert.equal(denied?.role, 'kill_ui_monitor');
	assert.match(denied?.result ?? '', /^denied: GRANT pg_signal_backend/);
});

test('--read-only: c and k are not bound at all, and the help says so', async t => {
	const {pool, appUrl, audited, openConsole: consoleOn} = await setup(t);
	const s = await pool.sleeper('kill-readonly', {url: appUrl});
	const ro = await consoleOn({screen: 'connections', size: {columns: 160, rows: 120}, state: {intervalMs: 500, thresholds, readOnly: true}});
	await only(ro, '^kill-readonly$', s.pid);
	assert.doesNotMatch(ro.lastFrame(), /c cancel|k kill/, 'not in the footer');
	ro.press('k');
	ro.press('c');
	// keys are handled in order: had k or c opened a dialog, ? would not open the help
	ro.press('?');
	const help = await ro.waitForFrame(/Read-only mode: \d+ commands that change the server or the disk are not bound\./);
	assert.match(help, /Connections screen/);
	assert.match(help, /filter sessions: a regex over user/);
	assert.doesNotMatch(help, /pg_cancel_backend|pg_terminate_backend/);
	assert.equal(ro.store.getState().dialog, undefined);
	assert.equal((await pool.stateOf(s.pid))?.state, 'active');
	assert.equal(audited('kill-readonly').length, 0);
});
