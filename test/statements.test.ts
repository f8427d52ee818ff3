import assert from 'node:assert/strict';
import {test} from 'node:test';
import {appQueries, appQueryContext} from '../source/db/app-queries.js';
import {
	bytesText,
	genericPlan,
	intervalStatements,
	loadStatements,
	resetGrant,
	resetStatements,
	singleStatement,
	statementText,
	versionAtLeast,
	type Statement,
	type StatementsData,
	type StatementsReady,
} from '../source/db/statements.js';
import {plainRole, testDatabase} from './helpers/db.js';
import {loadContext} from './statements-helpers.js';

const db = await testDatabase();
const other = await testDatabase();
const ctx = await loadContext(db.url);
const appCtx = await appQueryContext(db.client);
const {rows: dbRows} = await db.client.query<{oid: number}>('SELECT oid FROM pg_database WHERE datname = current_database()');
const dbid = dbRows[0]!.oid;

function ready(data: StatementsData): StatementsReady {
	assert.equal(data.kind, 'ready', data.kind === 'unavailable' ? `unavailable: ${data.caps.state}` : '');
	return data as StatementsReady;
}

// Seeded, so a failure replays with the same parameters.
const random = () => 0.42;

async function run(query: keyof typeof appQueries, times: number) {
	for (let i = 0; i < times; i++) await db.client.query(appQueries[query].sql, appQueries[query].params(appCtx, random));
}

// pg_stat_statements replaces the constants (LIMIT 20 becomes LIMIT $5): match on the first line
const find = (data: StatementsReady, sql: string): Statement => {
	const found = data.statements.find(s => s.toplevel && s.text.startsWith(sql.split('\n')[0]!));
	assert.ok(found, `no statement starting ${sql.slice(0, 40)}…`);
	return found;
};

type Direct = {calls: string; total_exec_time: number; mean_exec_time: number; max_exec_time: number; stddev_exec_time: number; rows: string; shared_blks_hit: string; shared_blks_read: string};

async function direct(queryid: string): Promise<Direct> {
	const {rows} = await db.client.query<Direct>(
		`SELECT calls, total_exec_time, mean_exec_time, max_exec_time, stddev_exec_time, rows, shared_blks_hit, shared_blks_read
		FROM pg_stat_statements WHERE dbid = $1 AND queryid = $2::bigint AND toplevel`,
		[dbid, queryid],
	);
	assert.equal(rows.length, 1);
	return rows[0]!;
}

test('bytes from a SQL_ASCII database: valid UTF-8 as it is, every other byte as \\xNN', () => {
	const text = (...parts: Array<string | number[]>) => bytesText(Buffer.concat(parts.map(p => (typeof p === 'string' ? Buffer.from(p) : Uint8Array.from(p)))));
	assert.equal(text('café 日本 🐘'), 'café 日本 🐘');
	assert.equal(text('a', [0x9b], '2J', [0xff, 0xe9], 'b'), 'a\\x9b2J\\xff\\xe9b');
	// overlong, surrogate, past U+10FFFF, and sequences cut short: each byte on its own
	assert.equal(text([0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]), '\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80');
	assert.equal(text('x', [0xe6, 0x97], 'y', [0xf0, 0x9f, 0x90]), 'x\\xe6\\x97y\\xf0\\x9f\\x90');
	// an encoded C1 control is valid UTF-8 and stays, for the sanitizer to drop where it is shown
	assert.equal(text([0xc2, 0x9b]), '\u009b');
	assert.equal(text([]), '');
});

test('extension versions compare part by part', () => {
	assert.ok(versionAtLeast('1.10', '1.9'));
	assert.ok(versionAtLeast('1.8', '1.8'));
	assert.ok(!versionAtLeast('1.7', '1.8'));
	assert.ok(versionAtLeast('1.11', '1.11'));
	assert.ok(!versionAtLeast('1.4', '1.10'));
});

test('cumulative numbers equal pg_stat_statements for this database', async () => {
	await db.client.query('SELECT pg_stat_statements_reset(0, $1, 0)', [dbid]);
	await run('job_list', 7);
	await run('application_list', 3);
	const data = ready(await loadStatements(ctx, undefined));
	assert.equal(data.version, '1.10');
	const job = find(data, appQueries.job_list.sql);
	const apps = find(data, appQueries.application_list.sql);
	assert.equal(job.calls, 7);
	assert.equal(apps.calls, 3);
	for (const s of [job, apps]) {
		const d = await direct(s.queryid);
		assert.equal(s.calls, Number(d.calls));
		assert.equal(s.totalMs, d.total_exec_time);
		assert.equal(s.meanMs, d.mean_exec_time);
		assert.equal(s.maxMs, d.max_exec_time);
		assert.equal(s.stddevMs, d.stddev_exec_time);
		assert.equal(s.rows, Number(d.rows));
		assert.equal(s.sharedHit, Number(d.shared_blks_hit));
		assert.equal(s.sharedRead, Number(d.shared_blks_read));
	}
	// pg_stat_statements_info: the reset above is the last one
	assert.ok(data.info?.statsReset);
	assert.ok(!data.interval, 'one sample has no interval');
	// pg_stat_statements is server-wide: another database's statements stay out
	await other.client.query('SELECT $1::int AS other_database_marker', [1]);
	const again = ready(await loadStatements(ctx, undefined));
	assert.ok(!again.statements.some(s => s.text.includes('other_database_marker')));
	find(again, appQueries.job_list.sql);
});

test('the interval holds what ran between two samples, with rates from the server clock', async () => {
	const first = ready(await loadStatements(ctx, undefined));
	const before = await direct(find(first, appQueries.job_list.sql).queryid);
	await run('job_list', 5);
	const second = ready(await loadStatements(ctx, first));
	const job = find(second, appQueries.job_list.sql);
	const after = await direct(job.queryid);
	const i = second.interval?.statements.find(s => s.key === job.key);
	assert.ok(second.interval && i, 'job_list ran in the interval');
	assert.equal(i.calls, 5);
	assert.equal(i.totalMs, after.total_exec_time - before.total_exec_time);
	assert.equal(i.meanMs, i.totalMs / 5);
	assert.equal(i.callsPerSecond, 5 / second.interval.seconds);
	assert.equal(second.interval.seconds, (second.probe.serverTime - first.probe.serverTime) / 1000);
	// application_list did not run: it is not in the interval
	const apps = find(second, appQueries.application_list.sql);
	assert.ok(!second.interval.statements.some(s => s.key === apps.key));
	// texts are carried over rather than read again
	assert.equal(job.text, find(first, appQueries.job_list.sql).text);
	assert.equal(second.load.size, 1);
});

test('an entry that was reset or re-created counts from zero in the interval', () => {
	const base: Statement = {key: 'k', userid: 1, role: 'r', queryid: '1', toplevel: true, text: 'x', calls: 10, totalMs: 100, meanMs: 10, maxMs: 20, stddevMs: 1, rows: 10, sharedHit: 5, sharedRead: 5, ioMs: 0};
	const after = {...base, calls: 2, totalMs: 30};
	const [i] = intervalStatements([after], [base], 2);
	assert.equal(i?.calls, 2);
	assert.equal(i?.totalMs, 30);
	assert.equal(i?.msPerSecond, 15);
	const since = intervalStatements([{...base, calls: 12, since: 2}], [{...base, since: 1}], 1);
	assert.equal(since[0]?.calls, 12, 'stats_since moved: a new entry');
	assert.deepEqual(intervalStatements([base], [base], 1), [], 'idle statements are left out');
});

test('the full text of a statement is read on demand', async () => {
	const data = ready(await loadStatements(ctx, undefined));
	const job = find(data, appQueries.job_list.sql);
	const {rows} = await db.client.query<{query: string}>('SELECT query FROM pg_stat_statements WHERE dbid = $1 AND queryid = $2::bigint', [dbid, job.queryid]);
	const full = await statementText(ctx.db, data, job);
	assert.equal(full, rows[0]!.query);
	assert.match(full!, /ORDER BY j\.posted_at DESC\nLIMIT \$5$/);
});

test('generic plans need PostgreSQL 16: on 15 nothing is run', async () => {
	assert.equal(ctx.caps.major, 15);
	const plan = await genericPlan(ctx.db, ctx.caps.major, appQueries.job_list.sql);
	assert.ok('unavailable' in plan && /16 or later/.test(plan.unavailable));
});

test('only one statement is ever explained', () => {
	assert.equal(singleStatement('SELECT 1'), 'SELECT 1');
	assert.equal(singleStatement(' SELECT 1 ; '), 'SELECT 1 ');
	assert.equal(singleStatement("SELECT ';' AS a, $$;$$, E'\\';', \"a;b\" /* ; */ -- ;"), "SELECT ';' AS a, $$;$$, E'\\';', \"a;b\" /* ; */ -- ;");
	assert.equal(singleStatement('SELECT 1; COMMIT; DROP TABLE jobs'), undefined);
	assert.equal(singleStatement("SELECT 'a'';'; DELETE FROM jobs"), undefined);
	assert.equal(singleStatement(''), undefined);
});

test('reset clears this database only', async () => {
	await other.client.query('SELECT count(*) FROM jobs WHERE id > $1', [1]);
	const data = ready(await loadStatements(ctx, undefined));
	find(data, appQueries.job_list.sql);
	await resetStatements(ctx.db, data);
	const after = ready(await loadStatements(ctx, undefined));
	assert.ok(!after.statements.some(s => s.text.startsWith('SELECT j.id, j.title')), 'our statements are gone');
	const {rows} = await other.client.query<{calls: string}>(
		"SELECT calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE 'SELECT count(*) FROM jobs WHERE id > $1'",
	);
	assert.equal(rows.length, 1, "the other database's statement survived");
	assert.ok(Number(rows[0]!.calls) >= 1);
});

test('without pg_read_all_stats: other roles\' texts are counted as hidden; the reset needs the GRANT it names', async () => {
	const plainUrl = await plainRole(db);
	const plain = await loadContext(plainUrl);
	await run('job_list', 1);
	const data = ready(await loadStatements(plain, undefined));
	// the superuser's statements: no text, no query id, but their cost, summed under one row
	const hidden = data.statements.find(s => s.role === 'postgres');
	assert.ok(hidden?.hidden, 'one summed row for the role');
	assert.equal(hidden.text, '<insufficient privilege>');
	assert.equal(data.hiddenTexts, hidden.hidden);
	const {rows} = await db.client.query<{n: string; calls: string}>(
		"SELECT count(*) AS n, sum(calls) AS calls FROM pg_stat_statements WHERE dbid = $1 AND userid = 'postgres'::regrole",
		[dbid],
	);
	assert.equal(hidden.hidden, Number(rows[0]!.n));
	assert.equal(hidden.calls, Number(rows[0]!.calls));
	await assert.rejects(resetStatements(plain.db, data), (error: {code?: string}) => error.code === '42501');
	const grant = resetGrant(data.version, data.schema, 'plain_user');
	assert.equal(grant, 'GRANT EXECUTE ON FUNCTION "public".pg_stat_statements_reset(oid, oid, bigint) TO "plain_user";');
	await db.client.query(grant);
	try {
		await resetStatements(plain.db, data);
		const after = ready(await loadStatements(ctx, undefined));
		assert.ok(!after.statements.some(s => s.text.startsWith('SELECT j.id, j.title')));
	} finally {
		await db.client.query(grant.replace('GRANT', 'REVOKE').replace(' TO ', ' FROM '));
	}
});
