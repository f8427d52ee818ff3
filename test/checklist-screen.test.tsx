import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {targetKey} from '../source/state.js';
import {readAudit} from '../source/audit.js';
import {readHistory, readSignOffs} from '../source/checklist/store.js';
import {resolveTarget} from '../source/db/dsn.js';
import {screenIds} from '../source/keymap.js';
import {testDatabase} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-checklist-screen-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const key = targetKey(resolveTarget({dsn: db.url, env: {}}));
const app = await renderApp(db.url, {screen: 'checklist', size: {columns: 150, rows: 40}});
after(() => app.cleanup());

const row = (id: number, title: string, verdict: string) => new RegExp(`^[ ›]*${id} ${title.replace(/[()+]/g, '\\$&')}[^\\n]*? +${verdict}\\b`, 'm');

// Rows are coloured by verdict: match the text, not the escape codes around it.
const plain = (frame: string) => frame.replace(/\u001B\[[\d;]*m/g, '');
const text = () => plain(app.lastFrame());
// A frame is on screen before React has run its effects (key handlers, a
// field taking the keyboard); a user never types that fast, so wait one turn.
const settled = () => new Promise(resolve => setImmediate(resolve));
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

test('every item with its verdict, the score and this week\'s critical actions', async () => {
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

test('s signs off the selected manual item after a confirmation; u withdraws it', async () => {
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

test('Enter on the EXPLAIN item shows the plans; Esc goes back', async () => {
	await select(3);
	app.press(keys.enter);
	const frame = await waitText(/job_list: Job search \(GET \/jobs\), parameters \["published"/);
	assert.match(frame, /^ {8}-> Seq Scan on jobs j \(cost [\d.]+, rows \d+\)$/m);
	assert.match(frame, /^Key: \d+ Checklist screen: Enter shows the plans$/m);
	assert.match(frame, /application_list: Candidate's applications/);
	app.press(keys.escape);
	await waitText(row(1, 'Migration h8c2d6e5f4g3 applied', 'FAIL'));
});

test('L asks for a typed confirmation (or refuses without headroom); under --read-only no sign-off key exists', async () => {
	app.press('L');
	const frame = await waitText(/Type 100 to start it|refusing the load test/);
	if (/Type 100/.test(frame)) {
		assert.match(frame, /Load test: 100 read-only sessions for 60 s/);
		app.press(keys.escape);
		await waitText(row(1, 'Migration h8c2d6e5f4g3 applied', 'FAIL'));
	}

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
