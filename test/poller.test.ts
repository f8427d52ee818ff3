import {test} from 'node:test';
import assert from 'node:assert/strict';
import {defaultConfig} from '../source/config.js';
import {pollDelay, startPoller} from '../source/store/poller.js';
import {createAppStore, type AppStore} from '../source/store/store.js';

test('an interval runs start to start: a poll that drew its frame for 200 ms of a 250 ms interval is followed 50 ms later', () => {
	// 20 ms of reads, then 180 ms drawing the frame on a loaded machine: the server was busy 20 ms of it
	assert.equal(pollDelay(250, 200, 20, 0), 50);
	assert.equal(pollDelay(1000, 300, 40, 0), 700);
});

test('reads longer than half the interval are followed by a pause as long as they took, at most an interval', () => {
	assert.equal(pollDelay(250, 200, 200, 0), 200);
	assert.equal(pollDelay(250, 900, 800, 0), 250);
});

test('failures back off exponentially, to at most 30 s', () => {
	assert.equal(pollDelay(1000, 10, 10, 2), 4000);
	assert.equal(pollDelay(1000, 10, 10, 10), 30_000);
});

test('paused, the poller wakes once an interval, not as often as its last reads were short', async () => {
	const store = createAppStore({target: 'test', paused: true, intervalMs: 250});
	let reads = 0;
	const counted: AppStore = {...store, getState: () => (reads++, store.getState())};
	const noServer = {query: () => Promise.reject(new Error('paused: nothing may be read'))};
	const poller = startPoller(counted, noServer, {}, defaultConfig);
	// a second of being paused: four wake-ups at 250 ms, each reading the state twice
	await new Promise(resolve => setTimeout(resolve, 1000));
	poller.stop();
	assert.ok(reads <= 16, `the paused poller read the state ${reads} times in a second`);
});
