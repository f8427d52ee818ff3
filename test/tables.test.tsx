import assert from 'node:assert/strict';
import {test} from 'node:test';
import chalk from 'chalk';
import pg from 'pg';
import stringWidth from 'string-width';
import {loadTables, sizesEveryMs, type IndexStat, type TableStat, type TablesData} from '../source/db/tables.js';
import {formatBytes} from '../source/format.js';
import {testDatabase, waitFor} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';
import {loadContext} from './statements-helpers.js';

chalk.level = 1;
const plain = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '');

const db = await testDatabase();
const ctx = await loadContext(db.url);

async function session(): Promise<pg.Client> {
	const c = new pg.Client({connectionString: db.url});
	c.on('error', () => undefined);
	await c.connect();
	return c;
}

// autovacuum off: the dead rows and scans are the test's alone. A session of its own,
// ended, so its statistics are flushed before the tests count.
const setup = await session();
await setup.query(`CREATE TABLE tbl_probe (id int PRIMARY KEY, b int, c int, u int UNIQUE, ex int, note text,
	CONSTRAINT tbl_probe_ex EXCLUDE USING btree (ex WITH =)) WITH (autovacuum_enabled = false)`);
await setup.query('INSERT INTO tbl_probe SELECT g, g % 10, g % 7, g, g, NULL FROM generate_series(1, 1000) g');
// random text does not compress: these values go to TOAST
await setup.query("UPDATE tbl_probe SET note = (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 200) g) WHERE id <= 5");
await setup.query('CREATE INDEX tbl_probe_b ON tbl_probe (b)');
// fails on the duplicates in c and leaves an invalid index behind, as in production
await setup.query('CREATE UNIQUE INDEX CONCURRENTLY tbl_probe_c_uniq ON tbl_probe (c)').catch(() => undefined);
await setup.query('CREATE TABLE tbl_locked (id int PRIMARY KEY, v text)');
await setup.end();

const table = (data: TablesData, name: string): TableStat => {
	const t = data.tables.find(x => x.name === name);
	assert.ok(t, `no table ${name}`);
	return t;
};
const index = (data: TablesData, name: string): IndexStat => {
	const i = data.indexes.find(x => x.name === name);
	assert.ok(i, `no index ${name}`);
	return i;
};

test('sizes equal the size functions, for every table', async () => {
	const data = await loadTables(ctx, undefined);
	const {rows} = await db.client.query<{relname: string; total: string; idx: string; toast: string}>(
		`SELECT c.relname, pg_total_relation_size(c.oid) AS total, pg_indexes_size(c.oid) AS idx,
			coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`,
	);
	assert.equal(data.tables.length, rows.length);
	for (const r of rows) {
		const t = table(data, r.relname);
		assert.deepEqual(t.sizes, {total: Number(r.total), indexes: Number(r.idx), toast: Number(r.toast), heap: Number(r.total) - Number(r.idx) - Number(r.toast)});
		assert.equal(t.estimated, false);
	}
	assert.ok(table(data, 'tbl_probe').sizes.toast > 0);
});

test('live and dead rows, sequential and index scans, vacuum and analyze: from a known workload', async () => {
	// 1000 inserted, 5 updated (the old versions are dead)
	const before = await waitFor(async () => {
		const t = table(await loadTables(ctx, undefined), 'tbl_probe');
		return t.liveRows === 1000 && t.deadRows === 5 ? t : undefined;
	}).then(t => t!);
	const s = await session();
	await s.query('SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off');
	await s.query('DELETE FROM tbl_probe WHERE id > 900');
	for (let i = 0; i < 3; i++) await s.query('SELECT count(*) FROM tbl_probe WHERE note IS NULL');
	await s.query('RESET ALL; SET enable_seqscan = off');
	for (let i = 1; i <= 2; i++) await s.query('SELECT note FROM tbl_probe WHERE id = $1', [i]);
	// exiting flushes the backend's statistics
	await s.end();
	const after = await waitFor(async () => {
		const t = table(await loadTables(ctx, undefined), 'tbl_probe');
		return t.idxScans === (before.idxScans ?? 0) + 2 && t.seqScans === before.seqScans + 4 ? t : undefined;
	}).then(t => t!);
	// the DELETE's own scan is a sequential one too
	assert.equal(after.deadRows, 105);
	assert.equal(after.liveRows, 900);
	assert.equal(after.seqRows - before.seqRows, 1000 + 3 * 900);
	assert.equal(after.lastVacuum, undefined);
	await db.client.query('VACUUM ANALYZE tbl_probe');
	const vacuumed = await waitFor(async () => {
		const t = table(await loadTables(ctx, undefined), 'tbl_probe');
		return t.lastVacuum && t.lastAnalyze ? t : undefined;
	}).then(t => t!);
	assert.equal(vacuumed.deadRows, 0);
	assert.equal(vacuumed.lastAutovacuum, undefined);
});

test('unused means never scanned and enforcing nothing; a failed concurrent build is invalid', async () => {
	const data = await loadTables(ctx, undefined);
	assert.equal(index(data, 'tbl_probe_b').unused, true);
	assert.equal(index(data, 'tbl_probe_pkey').unused, false, 'primary key');
	assert.equal(index(data, 'tbl_probe_u_key').unused, false, 'unique constraint');
	assert.equal(index(data, 'tbl_probe_ex').unused, false, 'exclusion constraint');
	assert.equal(index(data, 'tbl_probe_ex').constraint, true);
	const invalid = index(data, 'tbl_probe_c_uniq');
	assert.deepEqual([invalid.invalid, invalid.unused, invalid.valid], [true, false, false]);
	const s = await session();
	await s.query('SET enable_seqscan = off; SET enable_bitmapscan = off');
	await s.query('SELECT id FROM tbl_probe WHERE b = 3');
	await s.end();
	await waitFor(async () => index(await loadTables(ctx, undefined), 'tbl_probe_b').unused === false, {message: 'scanned once: no longer unused'});
});

test('an index still being built concurrently is not called invalid', async () => {
	const writer = await session();
	await writer.query('BEGIN');
	await writer.query('INSERT INTO tbl_probe (id, b, c, u, ex) VALUES (5000, 1, 1, 5000, 5000)');
	const builder = await session();
	// waits for the writer's transaction before it can build
	const build = builder.query('CREATE INDEX CONCURRENTLY tbl_probe_building ON tbl_probe (b, c)');
	try {
		const during = await waitFor(async () => {
			const i = (await loadTables(ctx, undefined)).indexes.find(x => x.name === 'tbl_probe_building');
			return i?.building ? i : undefined;
		}).then(i => i!);
		assert.equal(during.valid, false);
		assert.equal(during.invalid, false);
		assert.equal(during.unused, false);
	} finally {
		await writer.query('ROLLBACK');
		await build;
		await Promise.all([writer.end(), builder.end()]);
	}
	const done = index(await loadTables(ctx, undefined), 'tbl_probe_building');
	assert.deepEqual([done.valid, done.building, done.invalid], [true, undefined, false]);
});

test('a table under an exclusive lock, held or queued, gets estimates instead of a lock wait', async () => {
	const holder = await session();
	await holder.query('BEGIN');
	await holder.query('LOCK TABLE tbl_locked IN ACCESS EXCLUSIVE MODE');
	try {
		const data = await loadTables(ctx, undefined);
		assert.equal(table(data, 'tbl_locked').estimated, true);
		assert.equal(index(data, 'tbl_locked_pkey').estimated, true);
		assert.equal(table(data, 'tbl_probe').estimated, false);
	} finally {
		await holder.query('ROLLBACK');
		await holder.end();
	}

	// a migration's ALTER TABLE queued behind a long transaction: a size function would queue behind it
	const reader = await session();
	await reader.query('BEGIN');
	await reader.query('SELECT count(*) FROM tbl_locked');
	const migration = await session();
	const alter = migration.query('ALTER TABLE tbl_locked ADD COLUMN w int');
	try {
		await waitFor(async () => {
			const {rows} = await db.client.query("SELECT 1 FROM pg_locks WHERE relation = 'tbl_locked'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted");
			return rows.length === 1;
		});
		assert.equal(table(await loadTables(ctx, undefined), 'tbl_locked').estimated, true);
	} finally {
		await reader.query('COMMIT');
		await alter;
		await Promise.all([reader.end(), migration.end()]);
	}
	assert.equal(table(await loadTables(ctx, undefined), 'tbl_locked').estimated, false);
});

test('the screen: tables with sizes, i for indexes with the problems first and what to run; fits 80x24', async () => {
	const app = await renderApp(db.url, {screen: 'tables', size: {columns: 120, rows: 40}, state: {intervalMs: 60_000}});
	try {
		const {rows} = await db.client.query<{total: string}>("SELECT pg_total_relation_size('tbl_probe') AS total");
		let frame = plain(await app.waitForFrame(/tbl_probe/));
		assert.match(frame, /^\d+ tables, .* · by size \(s\) · i: indexes/m);
		assert.match(frame, new RegExp(`^[›\\s] tbl_probe +${formatBytes(Number(rows[0]!.total)).replace('.', '\\.')} `, 'm'));
		assert.match(frame, /^Sizes read \S+ ago \(every 30s\)\. Scans counted since the cluster was created/m);
		app.press('s');
		frame = plain(await app.waitForFrame(f => /by dead rows/.test(plain(f))));
		app.press('i');
		const colored = await app.waitForFrame(f => /by invalid, then unused/.test(plain(f)));
		frame = plain(colored);
		assert.match(frame, /1 invalid/);
		const lines = frame.split('\n');
		const first = lines.findIndex(l => /^› INVALID +tbl_probe_c_uniq/.test(l));
		assert.ok(first > 0, frame);
		// tbl_probe_b was scanned above; the index built concurrently never was
		assert.match(lines[first + 1]!, /^ {2}unused +tbl_probe_building /);
		assert.ok(colored.split('\n').find(l => l.includes('tbl_probe_c_uniq') && l.includes('INVALID'))?.includes('\u001B[31m'), 'invalid is red');
		assert.match(frame.replace(/\s+/g, ' '), /REINDEX INDEX CONCURRENTLY "public"\."tbl_probe_c_uniq"; or DROP INDEX CONCURRENTLY "public"\."tbl_probe_c_uniq";/);
		assert.match(frame, /^ {2}exclude +tbl_probe_ex /m);
		app.press(keys.down);
		await app.waitForFrame(f => /never scanned here since the stats reset \(since the cluster was created\); its age is not recorded: check it is older than that and unused on replicas, then DROP INDEX CONCURRENTLY "public"\."tbl_probe_building";/.test(plain(f).replace(/\s+/g, ' ')));
		app.store.setState({size: {columns: 80, rows: 24}});
		frame = plain(await app.waitForFrame(f => plain(f).split('\n').every(l => stringWidth(l) <= 80), 'fits 80 columns'));
		assert.ok(frame.split('\n').length <= 23);
		// the problems first: the state column is the sort's, marked
		assert.match(frame, /^\s+state↓\s+index\s+table\s+size\s+scans/m);
		app.press('s');
		frame = plain(await app.waitForFrame(f => /by size \(s\) · i: tables/.test(plain(f)) && /^\s+state\s+index\s+table\s+size↓\s+scans(\s|$)/m.test(plain(f)), 'by size, its column marked'));
		app.press('s');
		// fewest scans first: marked ascending
		frame = plain(await app.waitForFrame(f => /by fewest scans \(s\)/.test(plain(f)) && /^\s+state\s+index\s+table\s+size\s+scans↑(\s|$)/m.test(plain(f)), 'by fewest scans, its column marked'));
		assert.ok(frame.split('\n').every(l => stringWidth(l) <= 80), frame);
		app.press('i');
		// each list keeps its own sort: the tables are still by dead rows (s above), that column marked
		frame = plain(await app.waitForFrame(f => /^\s+table\s+total\s+.*\sdead↓(\s|$)/m.test(plain(f)), 'the table list back, its dead column marked'));
		assert.match(frame, /^\d+ tables, .* · by dead rows \(s\) · i: indexes/m);
	} finally {
		await app.cleanup();
	}
});

test('sizes and index definitions: read again after 30 s, at once for a new table or a renamed index; the scans every refresh', async () => {
	const c = await session();
	try {
		const first = await loadTables(ctx, undefined);
		await c.query('INSERT INTO tbl_probe SELECT g, g % 10, g % 7, g, g, NULL FROM generate_series(1001, 3000) g');
		await c.query('SELECT count(*) FROM tbl_probe');
		// a new session flushes its statistics when it ends: the scan above counted by then
		await c.end();
		const d = await session();
		const second = await waitFor(async () => {
			const data = await loadTables(ctx, first);
			return table(data, 'tbl_probe').seqScans > table(first, 'tbl_probe').seqScans && data;
		}, {message: 'the scan counted'});
		assert.equal(second.sizes.at, first.sizes.at, 'within 30 s: the sizes as read');
		assert.deepEqual(table(second, 'tbl_probe').sizes, table(first, 'tbl_probe').sizes);
		await d.query('CREATE TABLE tbl_sized (id int PRIMARY KEY)');
		const third = await loadTables(ctx, second);
		assert.ok(third.sizes.at > first.sizes.at, 'a table not read yet: read at once');
		assert.equal(table(third, 'tbl_sized').estimated, false);
		assert.ok(table(third, 'tbl_probe').sizes.total > table(first, 'tbl_probe').sizes.total, 'every size read again');
		await d.query('ALTER INDEX tbl_sized_pkey RENAME TO tbl_sized_key');
		const fourth = await loadTables(ctx, third);
		assert.match(index(fourth, 'tbl_sized_key').definition, /^CREATE UNIQUE INDEX tbl_sized_key ON public\.tbl_sized /);
		await d.query('INSERT INTO tbl_sized SELECT generate_series(1, 5000)');
		const unchanged = await loadTables(ctx, fourth);
		assert.equal(table(unchanged, 'tbl_sized').sizes.total, table(fourth, 'tbl_sized').sizes.total);
		// as if read 30 s ago
		const aged = {...unchanged, sizes: {...unchanged.sizes, at: unchanged.sizes.at - sizesEveryMs}};
		const fifth = await loadTables(ctx, aged);
		assert.ok(fifth.sizes.at > aged.sizes.at);
		const {rows} = await db.client.query<{total: string}>("SELECT pg_total_relation_size('tbl_sized') AS total");
		assert.equal(table(fifth, 'tbl_sized').sizes.total, Number(rows[0]!.total));
		await d.query('DROP TABLE tbl_sized');
		await d.end();
	} finally {
		await c.end().catch(() => undefined);
	}
});
