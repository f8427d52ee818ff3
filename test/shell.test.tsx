import {test, type TestContext} from 'node:test';
import assert from 'node:assert/strict';
import {own, type Owned} from './helpers/own.js';
import {keys, type RenderedApp} from './helpers/render.js';

/** Each test's own database and console, on the overview unless it says otherwise. */
const shell = async (t: TestContext, options: Parameters<Owned['app']>[0] = {}): Promise<RenderedApp> => (await own(t, 'shell')).app(options);

test('header shows the redacted target, version, role and live state', async t => {
	const app = await shell(t);
	const frame = await app.waitForFrame(/● live/);
	assert.match(frame, /postgres:\*\*\*@127\.0\.0\.1:\d+\/t_/);
	assert.doesNotMatch(frame, /postgres:postgres@/);
	assert.match(frame, /PG 15\.\d+/);
	assert.match(frame, /postgres \(superuser\)/);
});

test('overview shows numbers from the server', async t => {
	const app = await shell(t);
	const frame = await app.waitForFrame(/Connections\s+\S+ \d+ \/ 197 usable/);
	assert.match(frame, /Migration\s+at g7b1c5d4e3f2, h8c2d6e5f4g3 not applied/);
	assert.match(frame, /pg_stat_statements\s+collecting/);
	// Transactions/s needs two samples: it turns into a number on the second refresh
	await app.waitForFrame(/Transactions\/s\s+\d+\.\d/);
});

test('? opens help built from the keymap and Esc closes it', async t => {
	const app = await shell(t);
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

test('p pauses refreshing and + halves the interval', async t => {
	const app = await shell(t);
	app.press('p');
	await app.waitForFrame(/‖ paused/);
	app.press('p');
	await app.waitForFrame(/every 2\.0s/);
	app.press('+');
	await app.waitForFrame(/every 1\.0s/);
	assert.equal(app.store.getState().intervalMs, 1000);
});

test('q quits', async t => {
	const app = await shell(t);
	app.press('q');
	await app.waitForFrame(() => app.quitCalled(), 'quit called');
});

test('Ctrl-C quits even while a text field owns the keyboard', async t => {
	const other = await shell(t, {screen: 'connections'});
	await other.waitForFrame(/sessions/);
	other.press('/');
	await other.waitForFrame(() => other.store.getState().textCapture > 0, 'the filter owns the keyboard');
	other.press('q');
	await other.waitForFrame(/q/);
	assert.equal(other.quitCalled(), false, 'q is typed into the filter');
	other.press(keys.ctrlC);
	await other.waitForFrame(() => other.quitCalled(), 'quit called');
});
