import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {testDatabase} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';

const db = await testDatabase();
const app = await renderApp(db.url);
after(() => app.cleanup());

test('header shows the redacted target, version, role and live state', async () => {
	const frame = await app.waitForFrame(/● live/);
	assert.match(frame, /postgres:\*\*\*@127\.0\.0\.1:\d+\/t_/);
	assert.doesNotMatch(frame, /postgres:postgres@/);
	assert.match(frame, /PG 15\.\d+/);
	assert.match(frame, /postgres \(superuser\)/);
});

test('overview shows numbers from the server', async () => {
	const frame = await app.waitForFrame(/Connections\s+\S+ \d+ \/ 197 usable/);
	assert.match(frame, /Migration\s+at g7b1c5d4e3f2, h8c2d6e5f4g3 not applied/);
	assert.match(frame, /pg_stat_statements\s+collecting/);
	// Transactions/s needs two samples: it turns into a number on the second refresh
	await app.waitForFrame(/Transactions\/s\s+\d+\.\d/);
});

test('? opens help built from the keymap and Esc closes it', async () => {
	app.press('?');
	const frame = await app.waitForFrame(/Everywhere/);
	assert.match(frame, /quit and restore the terminal/);
	assert.match(frame, /Confirmation dialogs/);
	app.press(keys.escape);
	await app.waitForFrame(f => !/Everywhere/.test(f) && /Connections/.test(f));
});

test('p pauses refreshing and + halves the interval', async () => {
	app.press('p');
	await app.waitForFrame(/‖ paused/);
	app.press('p');
	await app.waitForFrame(/every 2\.0s/);
	app.press('+');
	await app.waitForFrame(/every 1\.0s/);
	assert.equal(app.store.getState().intervalMs, 1000);
});

test('q and Ctrl-C quit', async () => {
	app.press('q');
	await app.waitForFrame(() => app.quitCalled());
});
