import {test} from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {detectCapabilities, privilegeFixes} from '../source/db/capabilities.js';
import {plainRole, testDatabase} from './helpers/db.js';

const db = await testDatabase();
const empty = await testDatabase({empty: true});

async function detectAs(url: string) {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return await detectCapabilities(client);
	} finally {
		await client.end();
	}
}

test('superuser on the IntoWork database', async () => {
	const caps = await detectAs(db.url);
	const version = await db.client.query<{v: string}>(`SELECT current_setting('server_version_num') AS v`);
	assert.equal(caps.versionNum, Number(version.rows[0]!.v));
	assert.equal(caps.major, 15);
	assert.equal(caps.superuser, true);
	assert.equal(caps.pgMonitor, true);
	assert.equal(caps.pgSignalBackend, true);
	assert.deepEqual(privilegeFixes(caps), []);
	assert.equal(caps.statements.state, 'ok');
	assert.equal(caps.statements.preloaded, true);
	assert.match(caps.statements.version ?? '', /^1\.\d+$/);
	assert.equal(caps.intowork.looksLikeIntowork, true);
	assert.equal(caps.intowork.tablesFound.length, 15);
	assert.deepEqual(caps.intowork.tablesMissing, []);
	assert.equal(caps.intowork.alembicVersion, 'g7b1c5d4e3f2');
	assert.equal(caps.maxConnections, 200);
	assert.equal(caps.reservedConnections, 3);
});

test('plain role: no monitor or signal privileges, with the GRANTs that fix it', async () => {
	const url = await plainRole(db, 'caps_plain', 'caps_pw');
	const caps = await detectAs(url);
	assert.equal(caps.superuser, false);
	assert.equal(caps.pgMonitor, false);
	assert.equal(caps.pgSignalBackend, false);
	assert.deepEqual(privilegeFixes(caps), [
		'GRANT pg_monitor TO "caps_plain";  -- see every session\'s query and all statistics',
		'GRANT pg_signal_backend TO "caps_plain";  -- cancel or terminate other roles\' queries',
	]);
	await db.client.query('GRANT pg_monitor TO caps_plain');
	try {
		const granted = await detectAs(url);
		assert.equal(granted.pgMonitor, true);
		assert.equal(privilegeFixes(granted).length, 1);
	} finally {
		await db.client.query('REVOKE pg_monitor FROM caps_plain');
	}
});

test('a database that is not IntoWork, without the extension created', async () => {
	const caps = await detectAs(empty.url);
	assert.equal(caps.intowork.looksLikeIntowork, false);
	assert.equal(caps.intowork.alembicVersion, undefined);
	assert.equal(caps.intowork.tablesMissing.length, 15);
	assert.equal(caps.statements.state, 'not-created');
	assert.equal(caps.statements.fix, 'CREATE EXTENSION pg_stat_statements;');
});

test('an empty alembic_version table is reported as null, an outdated extension with the update', async () => {
	await empty.client.query('CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)');
	await empty.client.query(`CREATE EXTENSION pg_stat_statements VERSION '1.8'`);
	const caps = await detectAs(empty.url);
	assert.equal(caps.intowork.alembicVersion, null);
	assert.equal(caps.statements.state, 'outdated');
	assert.match(caps.statements.fix ?? '', /^ALTER EXTENSION pg_stat_statements UPDATE; -- 1\.8 -> 1\.\d+$/);
});
