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
	assert.doesNotMatch(frame, /Confirmation dialogs/, 'help is longer than the screen');
	for (let page = 0; page < 5 && !/Confirmation dialogs/.test(app.lastFrame()); page++) {
		const before = app.lastFrame();
		app.press(' ');
		await app.waitForFrame(f => f !== before);
	}
	assert.match(app.lastFrame(), /Confirmation dialogs/);
	app.press(keys.escape);
	await app.waitForFrame(f => !/Help/.test(f) && /Transactions\/s/.test(f));
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

test('q quits', async () => {
	app.press('q');
	await app.waitForFrame(() => app.quitCalled());
});

test('Ctrl-C quits even while a text field owns the keyboard', async () => {
	const other = await renderApp(db.url, {screen: 'connections'});
	try {
		await other.waitForFrame(/sessions/);
		other.press('/');
		await other.waitForFrame(() => other.store.getState().textCapture > 0);
		other.press('q');
		await other.waitForFrame(/q/);
		assert.equal(other.quitCalled(), false, 'q is typed into the filter');
		other.press(keys.ctrlC);
		await other.waitForFrame(() => other.quitCalled());
	} finally {
		await other.cleanup();
	}
});
