import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {startCluster, stopCluster, templateDatabase} from './helpers/cluster.js';
import {renderApp} from './helpers/render.js';

// A server of its own: this file restarts it under the open console.
const server = await startCluster(15);
after(() => stopCluster(server));

test('the console survives a server restart: stale marking, reconnect, then live data again', async () => {
	const app = await renderApp(server.url(templateDatabase), {size: {columns: 100, rows: 30}});
	try {
		await app.waitForFrame(/● live[\s\S]*Connections\s+\S+ \d+ \/ 197/);
		await server.stop();
		const down = await app.waitForFrame(/reconnecting, attempt \d+ · stale since \d\d:\d\d:\d\d/);
		assert.match(down, /STALE: data from \d\d:\d\d:\d\d/, 'the numbers on screen are marked stale');
		assert.match(down, /Connections/, 'the last data stays visible, marked');
		await server.start();
		const back = await app.waitForFrame(f => /● live/.test(f) && !/STALE/.test(f), 'live again', 20_000);
		assert.match(back, /Connections\s+\S+ \d+ \/ 197/);
		assert.equal(app.store.getState().screen, 'overview', 'state kept');
	} finally {
		await app.cleanup();
	}
});

test('after a reconnect the visible screen polls at once, not after its interval or the back-off', async () => {
	// An interval far longer than the wait below: only a poll made at once on reconnecting clears STALE in time.
	const app = await renderApp(server.url(templateDatabase), {size: {columns: 100, rows: 30}, state: {intervalMs: 60_000}});
	try {
		await app.waitForFrame(/● live[\s\S]*Connections\s+\S+ \d+ \/ 197/, 'the first poll');
		await server.stop();
		await app.waitForFrame(/reconnecting, attempt \d+ · stale since/, 'the connection lost');
		await server.start();
		await app.waitForFrame(/● live/, 'the monitor connected again', 20_000);
		const back = await app.waitForFrame(f => /● live/.test(f) && !/STALE/.test(f), 'the first poll on the new connection, well within the 60 s interval', 15_000);
		assert.match(back, /Connections\s+\S+ \d+ \/ 197/);
	} finally {
		await app.cleanup();
	}
});
