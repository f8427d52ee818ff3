import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor, NotConnectedError, type ConnectionState} from '../source/db/monitor.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {waitFor} from './helpers/db.js';

// A server of its own: this file restarts it.
const server = await startCluster(15, {template: false});
after(() => stopCluster(server));

function monitorFor(options = {}) {
	const monitor = new Monitor(resolveTarget({dsn: server.url(), env: {}}), {minBackoffMs: 100, maxBackoffMs: 500, ...options});
	const states: ConnectionState[] = [];
	monitor.on('state', s => states.push(s));
	return {monitor, states};
}

test('the monitor identifies itself and caps every statement', async () => {
	const {monitor} = monitorFor();
	await monitor.connect();
	try {
		const r = await monitor.query<{app: string; st: string; lt: string; pid: number}>(
			`SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, pg_backend_pid() AS pid`,
		);
		assert.deepEqual({...r.rows[0]}, {app: 'intowork-db', st: '5s', lt: '1s', pid: monitor.state.backendPid});
		await assert.rejects(monitor.query('SELECT pg_sleep(10)'), /canceling statement due to statement timeout/);
		assert.equal(monitor.state.status, 'live', 'a timed-out statement does not cost the connection');
	} finally {
		await monitor.close();
	}
});

test('a server restart: stale, reconnecting with attempts, then live again on its own', async () => {
	const {monitor, states} = monitorFor();
	await monitor.connect();
	try {
		await server.stop();
		await waitFor(() => monitor.state.status === 'reconnecting', {message: 'reconnecting'});
		assert.ok(monitor.state.staleSince, 'stale since is set');
		await assert.rejects(monitor.query('SELECT 1'), NotConnectedError);
		await waitFor(() => monitor.state.attempt >= 2, {message: 'retries'});
		await server.start();
		await waitFor(() => monitor.state.status === 'live', {timeout: 15_000, message: 'live again'});
		assert.equal(monitor.state.staleSince, undefined);
		const r = await monitor.query<{one: number}>('SELECT 1 AS one');
		assert.equal(r.rows[0]?.one, 1);
		assert.ok(states.some(s => s.status === 'reconnecting' && s.attempt >= 1));
	} finally {
		await monitor.close();
	}
});

test('its own backend terminated: it reconnects with a new backend', async () => {
	const {monitor} = monitorFor();
	await monitor.connect();
	const reconnected = new Promise<void>(resolve => monitor.once('reconnected', resolve));
	try {
		const before = monitor.state.backendPid;
		const admin = monitorFor().monitor;
		await admin.connect();
		await admin.query('SELECT pg_terminate_backend($1)', [before]);
		await admin.close();
		await reconnected;
		assert.equal(monitor.state.status, 'live');
		assert.notEqual(monitor.state.backendPid, before);
	} finally {
		await monitor.close();
	}
});

test('close stops reconnecting', async () => {
	const {monitor} = monitorFor();
	await monitor.connect();
	await monitor.close();
	assert.equal(monitor.state.status, 'closed');
	await assert.rejects(monitor.query('SELECT 1'), NotConnectedError);
});

test('refresh statements are prepared once per connection and planned once; a table that changed shape is prepared anew', async () => {
	const {monitor} = monitorFor();
	await monitor.connect();
	try {
		await monitor.query('DROP TABLE IF EXISTS shape; CREATE TABLE shape (v int); INSERT INTO shape VALUES (1)');
		const read = 'SELECT v FROM shape';
		for (let i = 0; i < 3; i++) assert.equal((await monitor.query<{v: number}>(read)).rows[0]?.v, 1);
		// one statement, with semicolons only in a comment and a literal
		const commented = "SELECT v -- the value; one row\n, ';x' AS s FROM shape";
		assert.equal((await monitor.query<{s: string}>(commented)).rows[0]?.s, ';x');
		const prepared = await monitor.query<{statement: string; generic: string; custom: string}>(
			'SELECT statement, generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements',
		);
		const reads = prepared.rows.filter(r => r.statement === read);
		assert.deepEqual(reads.map(r => ({generic: Number(r.generic), custom: Number(r.custom)})), [{generic: 3, custom: 0}], 'one prepared read, planned once and reused');
		assert.ok(!prepared.rows.some(r => r.statement.includes('CREATE TABLE')), 'a string of several statements is not prepared');
		assert.ok(prepared.rows.some(r => r.statement === commented), 'semicolons in a comment or a literal do not make several statements');
		await monitor.query('DROP TABLE shape; CREATE TABLE shape (v text); INSERT INTO shape VALUES ($$x$$)');
		await assert.rejects(monitor.query(read), /cached plan must not change result type/);
		assert.equal((await monitor.query<{v: string}>(read)).rows[0]?.v, 'x', 'the next call prepares it again and reads the new shape');
	} finally {
		await monitor.close();
	}
});

test('prepared statements that vanish between calls (a pooler in transaction mode) turn preparing off, and the read still answers', async () => {
	const {monitor} = monitorFor();
	await monitor.connect();
	try {
		const read = 'SELECT 41 + 1 AS answer';
		assert.equal((await monitor.query<{answer: number}>(read)).rows[0]?.answer, 42);
		// what a pooler does when the next transaction lands on another server connection
		await monitor.query('DEALLOCATE ALL');
		assert.equal((await monitor.query<{answer: number}>(read)).rows[0]?.answer, 42, 'answered without its prepared statement');
		await monitor.query('SELECT 2 AS two');
		const prepared = await monitor.query<{n: string}>('SELECT count(*) AS n FROM pg_prepared_statements');
		assert.equal(prepared.rows[0]?.n, '0', 'nothing is prepared any more');
	} finally {
		await monitor.close();
	}
});

test('a server that answers and refuses (a changed password) is retried with a growing back-off, not every retry interval', async () => {
	const admin = monitorFor().monitor;
	await admin.connect();
	await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mon_refused') THEN CREATE ROLE mon_refused LOGIN; END IF; END $$`);
	await admin.query(`ALTER ROLE mon_refused PASSWORD 'first'`);
	const monitor = new Monitor(resolveTarget({dsn: server.url('postgres', 'mon_refused', 'first'), env: {}}), {minBackoffMs: 100, maxBackoffMs: 400});
	await monitor.connect();
	try {
		await admin.query(`ALTER ROLE mon_refused PASSWORD 'second'`);
		await admin.query('SELECT pg_terminate_backend($1)', [monitor.state.backendPid]);
		await waitFor(() => /password authentication failed/.test(monitor.state.lastError ?? ''), {message: 'the refusal'});
		// every 100 ms would be 20 attempts in these 2 s; the back-off (200, 400, 400 … ms) makes at most 7
		const before = monitor.state.attempt;
		await new Promise(resolve => setTimeout(resolve, 2000));
		const made = monitor.state.attempt - before;
		assert.ok(made >= 2 && made <= 7, `${made} attempts in 2 s`);
		await admin.query(`ALTER ROLE mon_refused PASSWORD 'first'`);
		await waitFor(() => monitor.state.status === 'live', {message: 'live once the password is right again (within the 400 ms cap)'});
	} finally {
		await monitor.close();
		await admin.close();
	}
});
