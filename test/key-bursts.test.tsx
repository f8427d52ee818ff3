import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {splitKeys} from '../source/hooks/use-key-bursts.js';
import {own} from './helpers/own.js';

/** Each test's own database, state dir and console, on the Connections screen. */
async function console_(t: TestContext) {
	const {app} = await own(t, 'key-bursts');
	return app({screen: 'connections', size: {columns: 160, rows: 40}, state: {intervalMs: 60_000}});
}

test('a chunk splits into keys the way a terminal sends them', () => {
	assert.deepEqual(splitKeys('\u001B/lock'), ['\u001B', '/', 'l', 'o', 'c', 'k']);
	assert.deepEqual(splitKeys('2k'), ['2', 'k']);
	assert.deepEqual(splitKeys('\u001B[A'), ['\u001B[A'], 'an arrow is one key');
	assert.deepEqual(splitKeys('\u001B[5~'), ['\u001B[5~'], 'PgUp is one key');
	assert.deepEqual(splitKeys('\u001BOH'), ['\u001BOH'], 'SS3 Home is one key');
	assert.deepEqual(splitKeys('\u001B\u001B[B'), ['\u001B', '\u001B[B'], 'Esc then an arrow');
	assert.deepEqual(splitKeys('\u001B'), ['\u001B']);
	assert.deepEqual(splitKeys('\u001B\u001B'), ['\u001B', '\u001B']);
	assert.deepEqual(splitKeys('é😀'), ['é', '😀'], 'characters, not UTF-16 halves');
});

test('Esc then "/lock" in one write opens the filter and types "lock": no dialog, no command', async t => {
	const app = await console_(t);
	await app.waitForFrame(/^sessions \(v\)/m, 'the session list');
	app.press('\u001B/lock');
	const frame = await app.waitForFrame(f => f.includes('query): lock'), 'the filter holding "lock"');
	assert.equal(app.store.getState().dialog, undefined, 'c and k opened no dialog');
	assert.doesNotMatch(frame, /Cancel the query|Terminate/);
	// Esc and Enter in one write too: the filter is cancelled, then Enter acts on the list
	app.press('\u001B');
	await app.waitForFrame(f => !f.includes('query): lock'), 'the filter closed');
});

test('"2?" pasted is two keys: the Connections screen, then the help', async t => {
	const app = await console_(t);
	app.store.setState({screen: 'overview'});
	await app.waitForFrame(/Cache hit ratio/, 'the overview');
	app.press('2?');
	await app.waitForFrame(/^Help/m, 'the help over the Connections screen');
	assert.equal(app.store.getState().screen, 'connections');
	app.press('\u001B');
	await app.waitForFrame(/^sessions \(v\)/m, 'help closed');
});

test('a burst that ends on the filter: "/" and "G" in one write types G, never jumps to the last row', async t => {
	const app = await console_(t);
	await app.waitForFrame(/^sessions \(v\)/m, 'the session list');
	app.press('/G');
	await app.waitForFrame(f => f.includes('query): G'), 'G typed into the filter');
	app.press('\u001B');
	await app.waitForFrame(f => !f.includes('query): '), 'the filter closed');
});
