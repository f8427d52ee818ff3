import assert from 'node:assert/strict';
import os from 'node:os';
import {test, type TestContext} from 'node:test';
import pg from 'pg';
import {targetKey} from '../source/state.js';
import {readAudit} from '../source/audit.js';
import {readHistory, readSignOffs} from '../source/checklist/store.js';
import {resolveTarget} from '../source/db/dsn.js';
import {screenIds} from '../source/keymap.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {own} from './helpers/own.js';
import {keys, type RenderedApp} from './helpers/render.js';

const row = (id: number, title: string, verdict: string) => new RegExp(`^[ ›]*${id} ${title.replace(/[()+]/g, '\\$&')}[^\\n]*? +${verdict}\\b`, 'm');

// Rows are coloured by verdict: match the text, not the escape codes around it.
const plain = (frame: string) => frame.replace(/\u001B\[[\d;]*m/g, '');
// A frame is on screen before React has run its effects (key handlers, a
// field taking the keyboard); a user never types that fast, so wait one turn.
const settled = () => new Promise(resolve => setImmediate(resolve));

/** A console's checklist as a user reads it: the text without colour, waits that let effects run, and moving the selection. */
function reader(app: RenderedApp) {
	const text = () => plain(app.lastFrame());
	const waitText = (re: RegExp, message?: string, timeout?: number) =>
		app
			.waitForFrame(f => re.test(plain(f)), message, timeout)
			.then(async frame => {
				await settled();
				return plain(frame);
			});

	/** Moves the selection one row at a time, as a user would, until the item's panel shows. */
	async function select(id: number): Promise<void> {
		const panel = new RegExp(`^${id} [^\\n]+: (PASS|FAIL|UNKNOWN|SIGNED OFF)`, 'm');
		for (let i = 0; i < 10 && !panel.test(text()); i++) {
			const current = Number(/^(\d+) [^\n]+: (PASS|FAIL|UNKNOWN|SIGNED OFF)/m.exec(text())?.[1]);
			app.press(current < id ? keys.down : keys.up);
			await app.waitForFrame(f => !new RegExp(`^${current} [^\\n]+: (PASS|FAIL|UNKNOWN|SIGNED OFF)`, 'm').test(plain(f)));
			await settled();
		}
		await waitText(panel);
	}
	/** The first check done: EXPLAIN plans and p95 timings included, so it may take a while on a busy machine. */
	const loaded = () => waitText(/^\d+ [^\n]+: (PASS|FAIL|UNKNOWN|SIGNED OFF)/m, "the checklist's first check", 30_000);
	return {text, waitText, select, loaded};
}

/** Each test's own state: a database copied from the template, a state dir (sign-offs, history, audit) and a console on the Checklist. */
async function setup(t: TestContext) {
	const {db, app: console_} = await own(t, 'checklist-screen');
	const key = targetKey(resolveTarget({dsn: db.url, env: {}}));
	const app = await console_({screen: 'checklist', size: {columns: 150, rows: 40}});
	const read = reader(app);
	await read.loaded();
	return {app, key, ...read};
}

test('every item with its verdict, the score and this week\'s critical actions', async t => {
	const {waitText} = await setup(t);
	const frame = await waitText(row(10, 'Load testing completed', 'UNKNOWN'), 'the checklist', 20_000);
	assert.match(frame, /Score \d+\/100 -> \d+\/100 after this week's critical actions · not ready: \d+ of 10 required items do not pass/);
	assert.match(frame, /This week: ✗ apply the migration {2}✗ set the query timeout {2}✓ set up monitoring {2}✗ take and test a backup/);
	assert.match(frame, row(1, 'Migration h8c2d6e5f4g3 applied', 'FAIL'));
	assert.match(frame, row(2, 'Query timeout configured', 'FAIL'));
	assert.match(frame, row(5, 'Backup deployed and tested', 'FAIL'));
	assert.match(frame, row(7, 'Monitoring set up', 'PASS'));
	assert.match(frame, /alembic_version g7b1c5d4e3f2, needs h8c2d6e5f4g3 or later/);
	// the fix key names the screen by its number in this build
	const backups = screenIds.indexOf('backups') + 1;
	const migration = screenIds.indexOf('migration') + 1;
	assert.match(frame, new RegExp(`no backup in the catalog\\s+${backups} Backups screen: b takes one`));
	assert.match(frame, new RegExp(`^[ ›]*1 Migration h8c2d6e5f4g3 applied .* ${migration} Migration screen: m applies$`, 'm'));
});

test('s signs off the selected manual item after a confirmation; u withdraws it', async t => {
	const {app, key, select, waitText} = await setup(t);
	await select(8);
	app.press('s');
	const who = await waitText(/Who: \S+/);
	assert.match(who, new RegExp(`Who: ${os.userInfo().username}`));
	app.press(keys.enter);
	await waitText(/^Note:$/m);
	app.press('drill on the 3rd');
	await waitText(/Note: drill on the 3rd/);
	app.press(keys.enter);
	const dialog = await waitText(/Sign off item 8: Team trained on operational tasks/);
	assert.match(dialog, /note: drill on the 3rd/);
	app.press('y');
	await waitText(row(8, 'Team trained on operational tasks', 'SIGNED OFF'));
	assert.equal(readSignOffs(key)[0]?.note, 'drill on the 3rd');
	assert.equal(readAudit(key).filter(e => e.action === 'checklist.signoff').length, 1);
	const changes = readHistory(key).filter(h => h.source === 'console');
	assert.equal(changes.at(-1)?.items.find(i => i.id === 8)?.verdict, 'signed-off');

	app.press('u');
	await waitText(/Withdraw the sign-off of item 8/);
	app.press('y');
	await waitText(row(8, 'Team trained on operational tasks', 'UNKNOWN'));
	assert.ok(readSignOffs(key)[0]?.withdrawnAt);
});

test('Enter on the EXPLAIN item shows the plans; Esc goes back', async t => {
	const {app, select, waitText} = await setup(t);
	await select(3);
	app.press(keys.enter);
	const frame = await waitText(/job_list: Job search \(GET \/jobs\), parameters \["published"/);
	assert.match(frame, /^ {8}-> Seq Scan on jobs j \(cost [\d.]+, rows \d+\)$/m);
	assert.match(frame, /^Key: \d+ Checklist screen: Enter shows the plans$/m);
	assert.match(frame, /application_list: Candidate's applications/);
	app.press(keys.escape);
	await waitText(row(1, 'Migration h8c2d6e5f4g3 applied', 'FAIL'));
});

test('L asks for a typed confirmation when the server has room for its 100 sessions, and refuses with the reason when not', async t => {
	// A server of the test's own: on the run's shared one, the sessions of the test files beside it decide the headroom.
	const {app: console_, defer} = await own(t, 'checklist-load', {empty: true});
	const server = await startCluster(15, {template: false});
	// after the console has closed its connection
	defer(() => stopCluster(server));
	const app = await console_({screen: 'checklist', size: {columns: 150, rows: 40}}, server.url());
	const {waitText, loaded} = reader(app);
	await loaded();
	app.press('L');
	const frame = await waitText(/Type 100 to start it/);
	assert.match(frame, /Load test: 100 read-only sessions for 60 s/);
	assert.match(frame, /Headroom: \d+ connection slots free; 100 taken, 20 kept free\./);
	app.press(keys.escape);
	await app.waitForFrame(f => !/Type 100 to start it/.test(plain(f)), 'the dialog closed');

	// a database that takes 10 connections cannot take 100 clients, however many the server has free
	const admin = new pg.Client({connectionString: server.url()});
	await admin.connect();
	await admin.query('ALTER DATABASE postgres CONNECTION LIMIT 10');
	await admin.end();
	app.press('L');
	await waitText(/refusing the load test: this database takes 10 connections \(datconnlimit\) and has \d+: not enough for 100 clients/);
	assert.equal(app.store.getState().dialog, undefined, 'nothing to confirm');
});

test('under --read-only r re-checks and no sign-off key exists', async t => {
	const {app, select, text, waitText} = await setup(t);
	app.store.setState({readOnly: true});
	const footer = (f: string) => plain(f).trimEnd().split('\n').at(-1)!;
	await app.waitForFrame(f => /^r re-check {2}│/.test(footer(f)));
	await settled();
	app.press('r');
	await waitText(/✓ checklist re-check: EXPLAIN plans and p95 timings checked/);
	app.press('s');
	await select(4);
	assert.doesNotMatch(text(), /Who: /);
});
