import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {audit} from '../source/audit.js';
import {screenIds} from '../source/keymap.js';
import {testDatabase} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-activity-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const ctx = {key: {host: '127.0.0.1', port: db.info.port, database: db.name}, role: 'postgres', target: `postgres:***@127.0.0.1:${db.info.port}/${db.name}`};

// What the kill action and others write, through the real writer.
for (let i = 1; i <= 40; i++) {
	audit(ctx, {action: i % 2 ? 'cancel' : 'terminate', result: i % 2 ? 'cancelled' : 'terminated', pids: [1000 + i], query: `SELECT pg_sleep(${i})`, detail: {via: 'console', application: `app-${i}`}});
}
audit(ctx, {
	action: 'refuse',
	result: "refused: this console's own monitoring session",
	pids: [4242],
	// hostile text: retitles the terminal if shown raw
	query: 'SELECT 1 /* \u001b]0;pwned\u0007 */ FROM jobs WHERE id = 1',
	detail: {via: 'cli', requested: 'terminate'},
});

const activityKey = String(screenIds.indexOf('activity') + 1);

test('newest first, scrollable, Enter shows the whole entry, sanitized', async () => {
	const app = await renderApp(db.url, {size: {columns: 120, rows: 30}});
	try {
		app.press(activityKey);
		let frame = await app.waitForFrame(/41 actions on this database, newest first/);
		const rows = frame.split('\n').filter(l => /^[ ›] +\d\d-\d\d \d\d:\d\d:\d\d /.test(l));
		assert.match(rows[0]!, /^› .* refuse +refused: this console.* 4242 .*SELECT 1 \/\* \*\/ FROM jobs/);
		assert.match(rows[1]!, /terminate +terminated +1040 /);
		assert.match(rows[2]!, /cancel +cancelled +1039 /);
		assert.doesNotMatch(frame, /\u001b\]0;pwned/);
		app.press('G');
		frame = await app.waitForFrame(/^› .*cancel +cancelled +1001 /m);
		app.press('g');
		await app.waitForFrame(/^› .*refuse/m);
		app.press(keys.enter);
		frame = await app.waitForFrame(/Audit entry · Esc back/);
		assert.match(frame, /result\s+refused: this console's own monitoring session/);
		assert.match(frame, /pids\s+4242/);
		assert.match(frame, new RegExp(`by\\s+${os.userInfo().username} \\(OS user\\) as database role postgres`));
		assert.match(frame, /requested\s+terminate/);
		assert.match(frame, /^SELECT\n {2}1 \/\* {2}\*\/\nFROM jobs\nWHERE\n {2}id = 1$/m, 'pretty-printed, the escape sequence gone');
		assert.doesNotMatch(frame, /pwned\u0007/);
		app.press(keys.escape);
		await app.waitForFrame(/41 actions/);
		// another console (or the CLI) acts meanwhile: Ctrl-R reads the log again
		audit(ctx, {action: 'terminate', result: 'terminated', pids: [5151], query: 'SELECT 2', detail: {via: 'cli'}});
		app.press('\u0012');
		frame = await app.waitForFrame(/42 actions/);
		assert.match(frame.split('\n').find(l => / 5151 /.test(l)) ?? '', /terminate +terminated +5151/);
	} finally {
		await app.cleanup();
	}
});

test('the log survives a restart of the console', async () => {
	const app = await renderApp(db.url, {screen: 'activity', size: {columns: 120, rows: 30}});
	try {
		const frame = await app.waitForFrame(/42 actions on this database/);
		assert.match(frame, /terminate +terminated +5151/);
	} finally {
		await app.cleanup();
	}
});

test('an empty log says what will appear there', async () => {
	const empty = await testDatabase({empty: true});
	const app = await renderApp(empty.url, {screen: 'activity'});
	try {
		await app.waitForFrame(/0 actions on this database[\s\S]*Nothing recorded yet: cancels, terminations, refusals/);
	} finally {
		await app.cleanup();
	}
});
