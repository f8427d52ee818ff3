import assert from 'node:assert/strict';
import {test} from 'node:test';
import pg from 'pg';
import {isConnectionLoss} from '../source/actions/migration/session.js';
import {sessionEnded, serverAbsent} from '../source/db/connection-gone.js';
import {unreachable} from '../source/db/monitor.js';
import {freePort} from '../source/demo/pg-server.js';
import {testDatabase, urlFor, waitFor} from './helpers/db.js';

const db = await testDatabase({empty: true});

/** The error a promise rejects with: what the server or the socket really said. */
async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
	try {
		await run();
	} catch (error) {
		return error;
	}
	throw new Error('expected an error');
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: url, connectionTimeoutMillis: 5000});
	client.on('error', () => undefined);
	try {
		return await run(client);
	} finally {
		await client.end().catch(() => undefined);
	}
}

test('the monitor and the migration read one list: a session ended is both, a server absent only the reconnect, a refusal or a failed statement neither', async () => {
	// the backend terminated under a running statement: 57P01 from the server
	const terminated = await withClient(db.url, async client => {
		await client.connect();
		const pid = (await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
		const sleeping = errorOf(() => client.query('SELECT pg_sleep(30)'));
		await waitFor(async () => (await db.client.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid])).rowCount === 1, {message: 'the sleep running'});
		await db.client.query('SELECT pg_terminate_backend($1)', [pid]);
		return sleeping;
	});
	assert.equal((terminated as {code?: string}).code, '57P01');
	// then the connection itself is gone: the next statement fails at the client
	const afterwards = await withClient(db.url, async client => {
		await client.connect();
		const pid = (await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
		await db.client.query('SELECT pg_terminate_backend($1)', [pid]);
		// the server's goodbye arrives on its own; wait until the client has seen the socket close
		await new Promise<void>(resolve => client.once('end', resolve));
		return errorOf(() => client.query('SELECT 1'));
	});
	// nothing listens on this port: refused at the socket
	const refused = await errorOf(async () => withClient(`postgresql://x:y@127.0.0.1:${await freePort()}/postgres`, client => client.connect()));
	assert.equal((refused as {code?: string}).code, 'ECONNREFUSED');
	// the server answered and refused: wrong password (28P01), no such database (3D000)
	const password = await errorOf(() => withClient(urlFor(db.info, db.name, db.info.user, 'wrong-password'), client => client.connect()));
	const noDatabase = await errorOf(() => withClient(urlFor(db.info, `${db.name}_none`), client => client.connect()));
	assert.deepEqual([(password as {code?: string}).code, (noDatabase as {code?: string}).code], ['28P01', '3D000']);
	// a statement that failed in a live session
	const failed = await errorOf(() => db.client.query('SELECT * FROM no_such_table'));

	const cases: Array<[string, unknown, boolean, boolean]> = [
		// name, error, the session ended (migration: build interrupted), the server absent (monitor: retry at once)
		['terminated mid-statement', terminated, true, true],
		['used after termination', afterwards, true, true],
		['connection refused', refused, false, true],
		['wrong password', password, false, false],
		['no such database', noDatabase, false, false],
		['failed statement', failed, false, false],
	];
	for (const [name, error, ended, absent] of cases) {
		assert.equal(sessionEnded(error), ended, `${name}: session ended (${String(error)})`);
		assert.equal(isConnectionLoss(error), ended, `${name}: the migration's isConnectionLoss`);
		assert.equal(serverAbsent(error), absent, `${name}: server absent`);
		assert.equal(unreachable(error), absent, `${name}: the monitor's unreachable`);
	}
	// codes a proxy or the socket layer gives, which no local server produces on demand
	for (const code of ['08006', '57P02', '57P03', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']) assert.equal(isConnectionLoss(Object.assign(new Error('x'), {code})) && unreachable(Object.assign(new Error('x'), {code})), true, code);
	for (const code of ['ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']) assert.deepEqual([isConnectionLoss(Object.assign(new Error('x'), {code})), unreachable(Object.assign(new Error('x'), {code}))], [false, true], code);
});
