import {test} from 'node:test';
import assert from 'node:assert/strict';
import {planKill} from '../source/actions/kill.js';
import {buildLockTree, compileFilter, hangingKind, summarize, viewBackends, waitingBehind, type Backend} from '../source/db/connections.js';
import {formatSql} from '../source/format-sql.js';
import {fakeBackend} from './helpers/backends.js';

const waiter = (pid: number, blockedBy: number[], lockWaitMs = 1000): Backend => fakeBackend(pid, {state: 'active', waitEventType: 'Lock', waitEvent: 'transactionid', blockedBy, lockWaitMs});
const tree = (backends: Backend[]) => buildLockTree(backends).map(r => `${'  '.repeat(r.depth)}${r.pid}${r.alsoWaitsFor.length ? ` +${r.alsoWaitsFor.join(',')}` : ''}${r.cycle ? ' cycle' : ''} (${r.direct}/${r.behind})`);

test('lock tree: root blockers first, waiters under their nearest blocker, how many wait behind each', () => {
	const backends = [
		fakeBackend(10, {state: 'idle in transaction', xactMs: 60_000}),
		waiter(11, [10], 5000),
		waiter(12, [11, 10], 3000), // a lock queue: behind 11 and the holder
		waiter(13, [10], 9000),
		fakeBackend(20, {state: 'idle in transaction'}),
		waiter(21, [20]),
		fakeBackend(30),
	];
	assert.deepEqual(tree(backends), ['10 (3/3)', '  13 (0/0)', '  11 (1/0)', '  12 +11 (0/0)', '20 (1/1)', '  21 (0/0)']);
});

test('lock tree: a waiter with two root blockers appears once and names the other', () => {
	const backends = [fakeBackend(1), fakeBackend(2), waiter(3, [1, 2])];
	assert.deepEqual(tree(backends), ['1 (1/1)', '  3 +2 (0/0)', '2 (1/0)']);
	assert.deepEqual(waitingBehind(backends, 1), {direct: [3], all: [3], released: []}, 'killing 1 does not release 3: 2 still blocks it');
	assert.deepEqual(waitingBehind(backends, 2).released, []);
});

test('lock tree: a deadlock cycle still shows, marked; a prepared transaction (pid 0) is a root of its own', () => {
	const cycle = tree([waiter(5, [6]), waiter(6, [5])]);
	assert.deepEqual(cycle, ['5 +6 cycle (1/1)', '  6 cycle (1/0)'], 'the root of a cycle waits on its own waiter');
	const rows = buildLockTree([waiter(7, [0])]);
	assert.equal(rows[0]!.pid, 0);
	assert.equal(rows[0]!.placeholder, 'prepared');
	assert.equal(rows[1]!.pid, 7);
});

test('lock tree: a long lock queue stays one row per session', () => {
	const backends = [fakeBackend(1)];
	for (let pid = 2; pid <= 400; pid++) backends.push(waiter(pid, Array.from({length: pid - 1}, (_, i) => i + 1)));
	const rows = buildLockTree(backends);
	assert.equal(rows.length, 400);
	assert.equal(rows[0]!.behind, 399);
	assert.equal(waitingBehind(backends, 1).released.length, 1);
});

test('hanging: active past the statement target or idle in transaction past its limit; never walsenders or idle sessions', () => {
	const t = {hangingActiveMs: 30_000, hangingIdleTxMs: 60_000};
	assert.equal(hangingKind({backendType: 'client backend', state: 'active', queryMs: 31_000, stateMs: 31_000}, t), 'active');
	assert.equal(hangingKind({backendType: 'client backend', state: 'active', queryMs: 29_000, stateMs: 29_000}, t), undefined);
	assert.equal(hangingKind({backendType: 'client backend', state: 'idle in transaction', queryMs: 90_000, stateMs: 61_000}, t), 'idle-tx');
	assert.equal(hangingKind({backendType: 'client backend', state: 'idle in transaction (aborted)', queryMs: 90_000, stateMs: 61_000}, t), 'idle-tx');
	assert.equal(hangingKind({backendType: 'client backend', state: 'idle', queryMs: 900_000, stateMs: 900_000}, t), undefined);
	assert.equal(hangingKind({backendType: 'walsender', state: 'active', queryMs: 900_000, stateMs: 900_000}, t), undefined);
});

test('summary: states, hidden sessions counted, workers apart, groups by database/user and application', () => {
	const backends = [
		fakeBackend(1, {state: 'active', waitEventType: 'Lock', blockedBy: [2]}),
		fakeBackend(2, {state: 'idle in transaction', hanging: 'idle-tx'}),
		fakeBackend(3, {state: 'idle in transaction (aborted)', user: 'alice', application: 'psql'}),
		fakeBackend(4, {hidden: true, backendType: null, state: null, user: 'bob', application: ''}),
		fakeBackend(5, {backendType: 'autovacuum worker', state: 'active', user: null, application: ''}),
	];
	const s = summarize(backends, 6, {maxConnections: 100, reserved: 3});
	assert.deepEqual(
		{total: s.sessions.total, active: s.sessions.active, idleTx: s.sessions.idleInTransaction, aborted: s.sessions.aborted, hidden: s.sessions.hidden, hanging: s.sessions.hanging},
		{total: 4, active: 1, idleTx: 1, aborted: 1, hidden: 1, hanging: 1},
	);
	assert.equal(s.workers, 1);
	assert.equal(s.auxiliary, 6);
	assert.equal(s.waiting, 1);
	assert.deepEqual(
		s.byDatabaseUser.map(g => [g.label, g.counts.total]),
		[
			['intowork / intowork_app', 2],
			['intowork / alice', 1],
			['intowork / bob', 1],
		],
	);
	assert.deepEqual(s.busiestRole, {user: 'intowork_app', count: 2});
	assert.deepEqual(
		s.byApplication.map(g => g.label),
		['intowork-api', '(no application_name)', 'psql'],
	);
});

test('filter: a case-insensitive regex over user, application, database and query; bad regex matched literally, and said so', () => {
	const rows = [fakeBackend(1, {user: 'Alice'}), fakeBackend(2, {application: 'worker'}), fakeBackend(3, {query: 'SELECT (a'}), fakeBackend(4, {database: 'billing'})];
	const pids = (text: string) => rows.filter(compileFilter(text).test).map(b => b.pid);
	assert.deepEqual(pids('^alice$'), [1]);
	assert.deepEqual(pids('work'), [1, 2, 3, 4], 'intowork_app and intowork-api match everywhere');
	assert.deepEqual(pids('^worker$|^billing$'), [2, 4]);
	assert.deepEqual(pids('(a'), [3]);
	assert.match(compileFilter('(a').error ?? '', /not a valid regex/);
	assert.equal(compileFilter('ok').error, undefined);
});

test('sort: ages longest first, unknown last either way, S reverses', () => {
	const rows = [fakeBackend(1, {xactMs: 10}), fakeBackend(2, {xactMs: null}), fakeBackend(3, {xactMs: 30}), fakeBackend(4, {xactMs: 20})];
	const all = compileFilter('');
	assert.deepEqual(viewBackends(rows, all, 'xact', false).map(b => b.pid), [3, 4, 1, 2]);
	assert.deepEqual(viewBackends(rows, all, 'xact', true).map(b => b.pid), [1, 4, 3, 2]);
	assert.deepEqual(viewBackends(rows, all, 'pid', true).map(b => b.pid), [4, 3, 2, 1]);
});

test("sort by a name: the locale's order, as localeCompare gives it (not code points), equal names by pid", () => {
	const rows = [fakeBackend(1, {user: 'Zed'}), fakeBackend(2, {user: 'émile'}), fakeBackend(3, {user: 'bob'}), fakeBackend(4, {user: 'Alice'}), fakeBackend(5, {user: 'bob'}), fakeBackend(6, {user: null})];
	const all = compileFilter('');
	assert.deepEqual(viewBackends(rows, all, 'user', false).map(b => b.user), ['Alice', 'bob', 'bob', 'émile', 'Zed', null]);
	assert.deepEqual(viewBackends(rows, all, 'user', false).map(b => b.pid), [4, 3, 5, 2, 1, 6]);
	assert.deepEqual(viewBackends(rows, all, 'user', true).map(b => b.pid), [1, 2, 3, 5, 4, 6], 'reversed, unknown still last');
	assert.deepEqual(viewBackends(rows, compileFilter('^bob$'), 'user', false).map(b => b.pid), [3, 5]);
});

test('guards: own session and hidden ones refused, replication, autovacuum and console operations need a typed yes', () => {
	const plan = planKill(
		[
			fakeBackend(1),
			fakeBackend(2, {own: true}),
			fakeBackend(3, {hidden: true, backendType: null}),
			fakeBackend(4, {backendType: 'walsender'}),
			fakeBackend(5, {backendType: 'autovacuum worker'}),
			fakeBackend(6, {application: 'intowork-db/migrate'}),
			fakeBackend(7, {backendType: 'parallel worker', leaderPid: 1}),
			fakeBackend(8, {application: 'intowork-db'}),
		],
		'ops',
	);
	assert.deepEqual(
		plan.act.map(b => b.pid),
		[1, 8],
		'another console is an ordinary session',
	);
	assert.deepEqual(
		plan.confirm.map(c => [c.backend.pid, c.reason.split(':')[0]]),
		[
			[4, 'replication (walsender)'],
			[5, 'autovacuum'],
			[6, 'an intowork-db operation (intowork-db/migrate)'],
		],
	);
	assert.deepEqual(
		plan.refuse.map(r => [r.backend.pid, r.reason]),
		[
			[2, "this console's own monitoring session"],
			[3, 'this role cannot see the session, so cannot check it is still the same one (GRANT pg_monitor TO "ops";)'],
			[7, 'a parallel worker of pid 1: act on that session instead'],
		],
	);
});

test('formatSql: clauses on their own lines, lists one item a line, subqueries indented, literals untouched', () => {
	assert.equal(formatSql('SELECT pg_sleep(3600)'), 'SELECT pg_sleep(3600)', 'short statements stay on one line');
	const sql =
		"select j.id, count(*) AS n, coalesce(a.x, 'it''s,   FROM here') from jobs j join companies c on c.id = j.company_id where j.status = $1 and (j.a = 1 or j.b between 1 and 2) and j.id in (select job_id from job_applications where status = 'x') order by j.posted_at desc limit 20";
	assert.equal(
		formatSql(sql),
		[
			'select',
			'  j.id,',
			'  count(*) AS n,',
			"  coalesce(a.x, 'it''s,   FROM here')",
			'from jobs j',
			'join companies c on c.id = j.company_id',
			'where',
			'  j.status = $1',
			'  and (j.a = 1 or j.b between 1 and 2)',
			'  and j.id in (',
			'    select',
			'      job_id',
			'    from job_applications',
			'    where',
			"      status = 'x'",
			'  )',
			'order by',
			'  j.posted_at desc',
			'limit 20',
		].join('\n'),
	);
	// cut off by track_activity_query_size inside a string: no crash, nothing invented
	assert.equal(formatSql("SELECT 'abc, def FROM x"), "SELECT 'abc, def FROM x");
	assert.equal(formatSql("select E'a\\'b' -- c\nfrom $q$ x, y $q$ as t, u", 2, 10), "select\n  E'a\\'b' -- c\nfrom $q$ x, y $q$ as t, u");
});
