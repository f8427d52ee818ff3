import assert from 'node:assert/strict';
import {test} from 'node:test';
import chalk from 'chalk';
import pg from 'pg';
import stringWidth from 'string-width';
import {sparkCells} from '../source/components/sparkline.js';
import {delta, hitRatio, historyCapacity, intervalRatios, loadCache, windowRatio, type CacheData, type CacheSample} from '../source/db/cache.js';
import {RingBuffer} from '../source/ring-buffer.js';
import {minIntervalMs} from '../source/store/store.js';
import {testDatabase, waitFor} from './helpers/db.js';
import {renderApp} from './helpers/render.js';
import {loadContext} from './statements-helpers.js';

chalk.level = 1;
const plain = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '');

const db = await testDatabase();
const ctx = await loadContext(db.url);
// autovacuum off: nothing but this test touches the table
await db.client.query('CREATE TABLE cache_probe (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)');
await db.client.query("INSERT INTO cache_probe SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");

test('the ring buffer keeps the newest items up to its capacity, however long it runs', () => {
	let buffer = RingBuffer.empty<number>(100);
	const first = buffer;
	for (let i = 0; i < 10_000; i++) buffer = buffer.push(i);
	assert.equal(buffer.size, 100);
	assert.equal(buffer.toArray()[0], 9900);
	assert.equal(buffer.last(), 9999);
	assert.deepEqual(buffer.latest(3), [9997, 9998, 9999]);
	assert.equal(first.size, 0, 'a push never changes the buffer it was called on');
	assert.equal(RingBuffer.from(buffer, 10).size, 10);
	assert.equal(historyCapacity, 300_000 / minIntervalMs + 1, 'five minutes at the fastest refresh');
});

const sample = (at: number, hit: number, read: number): CacheSample => ({at, database: {hit, read}, heap: {hit, read}, index: {hit, read}});

test('ratios: the runbook formula, over the interval and the last five minutes, stopping at a reset', () => {
	assert.equal(hitRatio({hit: 95, read: 5}), 0.95);
	assert.equal(hitRatio({hit: 0, read: 0}), undefined);
	assert.equal(delta({hit: 5, read: 5}, {hit: 6, read: 1}), undefined, 'counters went backwards: a reset');
	const minute = 60_000;
	const history = [sample(0, 0, 0), sample(1 * minute, 100, 100), sample(3 * minute, 1000, 100), sample(6 * minute, 1900, 200)];
	// the window starts at the oldest sample within five minutes of the newest (1 min): 1800 hits, 100 reads
	assert.deepEqual(windowRatio(history, 'database'), {ratio: 1800 / 1900, seconds: 300});
	// a reset at 3 minutes: the window starts after it
	const reset = [sample(0, 0, 0), sample(1 * minute, 500, 500), sample(3 * minute, 10, 0), sample(4 * minute, 110, 0)];
	assert.deepEqual(windowRatio(reset, 'database'), {ratio: 1, seconds: 60});
	assert.deepEqual(windowRatio([sample(0, 1, 1)], 'database'), {}, 'one sample has no window');
	const ring = reset.reduce((b, s) => b.push(s), RingBuffer.empty<CacheSample>(10));
	assert.deepEqual(intervalRatios(ring, 'heap', 5), [0.5, undefined, 1]);
	assert.deepEqual(intervalRatios(ring, 'heap', 1), [1]);
});

test('sparkline: levels between min and max, gaps for no data, colour against the target', () => {
	const cells = sparkCells([0.9, 0.97, 1, undefined, 0.5, 0.95, 0.9499], {min: 0.9, max: 1, target: 0.95, invert: true});
	assert.deepEqual(
		cells.map(c => c.char),
		['▁', '▆', '█', '·', '▁', '▄', '▄'],
	);
	assert.deepEqual(
		cells.map(c => c.state),
		['bad', 'good', 'good', 'gap', 'bad', 'good', 'bad'],
	);
	assert.deepEqual(
		sparkCells([0, 5, 10], {min: 0, max: 10}).map(c => [c.char, c.state]),
		[
			['▁', 'plain'],
			['▅', 'plain'],
			['█', 'plain'],
		],
	);
});

type Direct = {blks_hit: string; blks_read: string; heap_hit: string; heap_read: string; idx_hit: string; idx_read: string};

test('cumulative ratios equal direct SQL on pg_stat_database, pg_statio_user_tables and pg_statio_user_indexes', async () => {
	for (let i = 0; i < 3; i++) await db.client.query('SELECT count(*) FROM jobs j JOIN companies c ON c.id = j.company_id');
	await waitFor(
		async () => {
			const data = await loadCache(ctx, undefined);
			const {rows} = await ctx.db.query<Direct>(`SELECT
				(SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()) AS blks_hit,
				(SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS blks_read,
				(SELECT sum(heap_blks_hit) FROM pg_statio_user_tables) AS heap_hit,
				(SELECT sum(heap_blks_read) FROM pg_statio_user_tables) AS heap_read,
				(SELECT sum(idx_blks_hit) FROM pg_statio_user_indexes) AS idx_hit,
				(SELECT sum(idx_blks_read) FROM pg_statio_user_indexes) AS idx_read`);
			const d = rows[0]!;
			const ratio = (hit: string, read: string) => Number(hit) / (Number(hit) + Number(read));
			// stats land in the views up to a second after a backend goes idle: equal once both reads saw the same flush
			return (
				data.ratios.database.cumulative === ratio(d.blks_hit, d.blks_read) &&
				data.ratios.heap.cumulative === ratio(d.heap_hit, d.heap_read) &&
				data.ratios.index.cumulative === ratio(d.idx_hit, d.idx_read) &&
				data.ratios.heap.cumulative! > 0
			);
		},
		{message: 'loader and direct SQL agree'},
	);
});

test('per table: the interval counts exactly the blocks a known workload touched', async () => {
	const {rows} = await db.client.query<{pages: number}>("SELECT (pg_relation_size('cache_probe') / current_setting('block_size')::int)::int AS pages");
	const pages = rows[0]!.pages;
	assert.ok(pages > 10);
	const first = await loadCache(ctx, undefined);
	const scanner = new pg.Client({connectionString: db.url});
	await scanner.connect();
	await scanner.query('SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off');
	for (let i = 0; i < 4; i++) await scanner.query('SELECT count(*) FROM cache_probe');
	// a backend flushes its statistics when it exits
	await scanner.end();
	const second = await waitFor(async () => {
		const data = await loadCache(ctx, first);
		const t = data.tables.find(x => x.name === 'cache_probe');
		return t?.intervalHeap && t.intervalHeap.hit + t.intervalHeap.read >= 4 * pages ? data : undefined;
	});
	const t = second!.tables.find(x => x.name === 'cache_probe')!;
	assert.equal(t.intervalHeap!.hit + t.intervalHeap!.read, 4 * pages);
	// the planner reads the primary key's metapage; the scans themselves use no index
	assert.ok(t.intervalIndex!.hit + t.intervalIndex!.read <= 4);
	assert.equal(t.intervalReads, t.intervalHeap!.read + t.intervalIndex!.read);
	assert.ok(second!.intervalSeconds! > 0);
	assert.equal(second!.history.size, 2);
});

test('per table: most disk reads in the interval first; a reset gives no interval rather than a negative one', async () => {
	const current = await loadCache(ctx, undefined);
	const less = (name: string, reads: number) => (t: CacheData['tables'][number]) => (t.name === name ? {...t, heap: {...t.heap, read: t.heap.read - reads}} : t);
	// as if cache_probe had read 7 blocks and jobs 3 since the previous sample
	const previous: CacheData = {...current, tables: current.tables.map(less('cache_probe', 7)).map(less('jobs', 3))};
	const data = await loadCache(ctx, previous);
	assert.deepEqual(
		data.tables.slice(0, 2).map(t => t.name),
		['cache_probe', 'jobs'],
	);
	assert.ok(data.tables[0]!.intervalReads! >= 7);
	const reset = await loadCache(ctx, {...current, sample: {...current.sample, database: {hit: 1e15, read: 1e15}}});
	assert.equal(reset.ratios.database.interval, undefined);
});

test('the screen: three ratios with history against the target, the reset time, tables by reads; fits 80x24', async () => {
	const app = await renderApp(db.url, {screen: 'cache', size: {columns: 100, rows: 30}, state: {intervalMs: 250}});
	let running = true;
	const traffic = (async () => {
		const client = new pg.Client({connectionString: db.url});
		await client.connect();
		while (running) await client.query('SELECT count(*) FROM jobs WHERE id > $1', [1]);
		await client.end();
	})();
	try {
		let frame = await app.waitForFrame(f => /^Database .*[▁▂▃▄▅▆▇█]/m.test(plain(f)), 'a history bar for the database');
		assert.match(plain(frame), /since reset\s+last [\d.]+m?s\s+last /);
		assert.match(plain(frame), /^Table heap\s+\d+\.\d\d%/m);
		assert.match(plain(frame), /^Indexes\s+\d+\.\d\d%/m);
		assert.match(plain(frame), /Stats reset never · target 95%/);
		assert.ok(frame.includes('\u001B[32m'), 'ratios at or above the target are green');
		assert.match(plain(frame), /^\s+table\s+reads↓\s+heap%\s+idx%/m);
		assert.match(plain(frame), /cache_probe/);
		await db.client.query('SELECT pg_stat_reset()');
		frame = await app.waitForFrame(f => /Stats reset \d{4}-\d\d-\d\d \d\d:\d\d/.test(plain(f)));
		app.store.setState({size: {columns: 80, rows: 24}});
		// counting again since the reset, from the traffic
		frame = await app.waitForFrame(f => plain(f).split('\n').every(l => stringWidth(l) <= 80) && /^Database\s+\d+\.\d\d%/m.test(plain(f)), 'fits 80 columns');
		assert.ok(plain(frame).split('\n').length <= 23);
		assert.match(plain(frame), /Stats reset \d{4}/);
	} finally {
		running = false;
		await traffic;
		await app.cleanup();
	}
});
