import {test} from 'node:test';
import assert from 'node:assert/strict';
import type {Capabilities} from '../source/db/capabilities.js';
import {createAppStore, firstData, putSlot} from '../source/store/store.js';
import type {Overview} from '../source/db/overview.js';

// The console draws its first frame when firstData resolves: with the first screen's data, or without it
// when waiting longer would only leave the terminal blank.
const live = () => createAppStore({target: 't', caps: {} as Capabilities, connection: {status: 'live', attempt: 0}});
const settled = (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>(resolve => setImmediate(() => resolve(false)))]);

test('the first frame waits for the first poll of the visible screen, and no longer', async () => {
	const store = live();
	const waiting = firstData(store, 60_000);
	assert.equal(await settled(waiting), false, 'nothing polled yet');
	putSlot(store, 'connections', {} as never, Date.now());
	assert.equal(await settled(waiting), false, 'another screen answered, not the visible one');
	putSlot(store, 'overview', {} as Overview, Date.now());
	assert.equal(await settled(waiting), true);
});

test('a failed first poll, a lost connection or the time limit draw the frame without data', async () => {
	const failed = live();
	const a = firstData(failed, 60_000);
	failed.setState({data: {overview: {error: 'permission denied'}}} as never);
	assert.equal(await settled(a), true);

	const lost = live();
	const b = firstData(lost, 60_000);
	lost.setState({connection: {status: 'reconnecting', attempt: 1}});
	assert.equal(await settled(b), true);

	const slow = live();
	const started = Date.now();
	await firstData(slow, 50);
	assert.ok(Date.now() - started >= 45, 'waited for the limit');
});
