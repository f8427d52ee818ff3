import {test} from 'node:test';
import assert from 'node:assert/strict';
import {formatUptime, intervalText, lateAfterMs} from '../source/components/header.js';

test('the header names the interval achieved only when polls fall behind the one asked for', () => {
	assert.equal(intervalText(250, undefined), 'every 250ms');
	assert.equal(intervalText(250, 260), 'every 250ms');
	assert.equal(intervalText(250, 820), 'every 250ms (achieved 820ms)');
});

test('uptime is shown to the second only in its first minute, so the header need not redraw every second', () => {
	assert.equal(formatUptime(42_000), '42s');
	assert.equal(formatUptime(12 * 60_000 + 5_000), '12m');
	assert.equal(formatUptime(5 * 3_600_000 + 12 * 60_000), '5h12m');
	assert.equal(lateAfterMs(2000), 5000);
});
