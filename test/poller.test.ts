import {test} from 'node:test';
import assert from 'node:assert/strict';
import {pollDelay} from '../source/store/poller.js';

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
