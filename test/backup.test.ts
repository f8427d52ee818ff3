import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {readAudit} from '../source/audit.js';
import {runBackup, type BackupProgress} from '../source/actions/backup/backup.js';
import {readCatalog, type BackupRecord} from '../source/actions/backup/catalog.js';
import {findPgTools} from '../source/actions/backup/pg-tools.js';
import {runRestore} from '../source/actions/backup/restore.js';
import {runRestoreTest, scratchPrefix} from '../source/actions/backup/restore-test.js';
import {targetKey} from '../source/state.js';
import {resolveTarget} from '../source/db/dsn.js';
import {CliError} from '../source/errors.js';
import {dropDatabases, plainRole, testDatabase, urlFor, waitFor} from './helpers/db.js';

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-backup-'));
const env = {...process.env, INTOWORK_DB_STATE: state};
const db = await testDatabase();
const target = resolveTarget({dsn: db.url, env: {}});
const key = targetKey(target);
const dir = path.join(state, 'out');
// restores go into databases of our own, dropped at the end
const intoNames: string[] = [];
after(async () => {
	fs.rmSync(state, {recursive: true, force: true});
	await dropDatabases(db.info, intoNames);
});

async function actualCounts(client: pg.Client): Promise<Record<string, number>> {
	const tables = await client.query<{name: string}>(
		"SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables ORDER BY 1",
	);
	const counts: Record<string, number> = {};
	for (const {name} of tables.rows) counts[name] = Number((await client.query<{n: string}>(`SELECT count(*) AS n FROM ${name}`)).rows[0]!.n);
	return counts;
}

// Other test files restore-test at the same time on the same cluster: ask about our own scratch databases only.
async function databaseExists(name: string): Promise<boolean> {
	const r = await db.client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
	return r.rowCount === 1;
}

function filesIn(d: string): string[] {
	return fs.existsSync(d) ? fs.readdirSync(d).sort() : [];
}

/**
 * Runs `during` while a session holds an ACCESS EXCLUSIVE lock on `table`,
 * so pg_dump stops mid-way, deterministically, until the lock goes.
 */
async function whileLocked<T>(table: string, during: () => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: db.url});
	await client.connect();
	try {
		await client.query('BEGIN');
		await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
		return await during();
	} finally {
		await client.query('ROLLBACK').catch(() => undefined);
		await client.end();
	}
}

async function pgDumpWaitingOnLock(): Promise<boolean> {
	const r = await db.client.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE %'");
	return (r.rowCount ?? 0) >= 2; // pg_dump's and our counting connection's
}

let custom: BackupRecord;

test('pg_dump is found for the server version; a missing or older one says what to install', async () => {
	const tools = await findPgTools(15);
	assert.equal(tools.major, 15);
	assert.ok(fs.existsSync(tools.pgRestore) && fs.existsSync(tools.psql));

	await assert.rejects(findPgTools(18, {env: {PATH: '/usr/bin'}}), (error: Error) => {
		assert.match(error.message, /no pg_dump for PostgreSQL 18 \(found only 15\.\d+ in \/usr\/lib\/postgresql\/15\/bin\)/);
		assert.match(error.message, /apt install postgresql-client-18/);
		return true;
	});

	const fake = path.join(state, 'old-bin');
	fs.mkdirSync(fake);
	for (const tool of ['pg_dump', 'pg_restore', 'psql']) fs.writeFileSync(path.join(fake, tool), '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.9"\n', {mode: 0o755});
	await assert.rejects(findPgTools(15, {pgBin: fake}), /--pg-bin .*old-bin: pg_dump 14\.9 cannot dump a PostgreSQL 15 server; install the PostgreSQL 15 client tools/);
	await assert.rejects(findPgTools(15, {pgBin: path.join(state, 'nowhere')}), /no pg_dump, pg_restore and psql there/);
	// Debian's /usr/bin/pg_dump is pg_wrapper, which chooses a version by itself
	await assert.rejects(findPgTools(15, {pgBin: '/usr/bin'}), /--pg-bin \/usr\/bin: its pg_dump is a wrapper that picks a version itself; give the directory of one version, e.g. \/usr\/lib\/postgresql\/15\/bin/);
});

test('a custom backup of the seeded database: exact counts, sha256 beside it, mode 0600, catalogued and audited', async () => {
	const seen: BackupProgress[] = [];
	custom = await runBackup({target, dir, env, onProgress: p => seen.push(p)});
	assert.match(path.basename(custom.file), new RegExp(`^${db.name}_\\d{8}T\\d{6}Z\\.dump$`));
	assert.equal(fs.statSync(custom.file).mode & 0o777, 0o600);
	assert.deepEqual(filesIn(dir), [path.basename(custom.file), `${path.basename(custom.file)}.sha256`]);
	// the sidecar is what sha256sum -c reads
	execFileSync('sha256sum', ['-c', `${path.basename(custom.file)}.sha256`], {cwd: dir});
	assert.equal(fs.readFileSync(`${custom.file}.sha256`, 'utf8').split(' ')[0], custom.sha256);
	assert.equal(custom.sizeBytes, fs.statSync(custom.file).size);
	assert.deepEqual(custom.rowCounts, await actualCounts(db.client));
	assert.ok(custom.rowCounts['public.job_applications']! > 1000);
	assert.ok(custom.objects!.indexes.includes('public.users_email_key'));
	assert.ok(custom.objects!.constraints.includes('public.users.users_pkey'));
	assert.equal(custom.pgDumpVersion?.split('.')[0], '15');

	const dumping = seen.filter(p => p.phase === 'dumping');
	assert.equal(dumping.at(-1)!.tablesDone, dumping.at(-1)!.tablesTotal);
	assert.equal(dumping.at(-1)!.tablesTotal, Object.keys(custom.rowCounts).length);
	assert.ok(dumping.at(-1)!.bytes > 0);

	assert.deepEqual(readCatalog(key, env).map(r => r.id), [custom.id]);
	const entry = readAudit(key, 10, env).at(-1)!;
	assert.equal(entry.action, 'backup');
	assert.equal(entry.result, 'ok');
	assert.equal(entry.detail?.sha256, custom.sha256);
});

test('the restore test restores into a scratch database, matches every count exactly, and drops it', async () => {
	const result = await runRestoreTest({target, record: custom, env});
	assert.deepEqual(result.differences, []);
	assert.equal(result.passed, true);
	assert.equal(result.checksum, 'ok');
	assert.ok(result.scratchDatabase.startsWith(scratchPrefix));
	assert.equal(await databaseExists(result.scratchDatabase), false);
	assert.equal(readCatalog(key, env).find(r => r.id === custom.id)?.restoreTest?.passed, true);
	assert.equal(readAudit(key, 10, env).at(-1)?.action, 'restore-test');
});

test('cancelling a restore test mid-way drops the scratch database and keeps the earlier result', async () => {
	const controller = new AbortController();
	const phases: string[] = [];
	let scratch = '';
	const cancelled = runRestoreTest({
		target,
		record: custom,
		env,
		signal: controller.signal,
		onProgress: p => {
			phases.push(p.phase);
			scratch = p.database ?? scratch;
			// the scratch database exists by now
			if (p.phase === 'restoring') controller.abort();
		},
	});
	await assert.rejects(cancelled, /restore test cancelled; nothing was left behind/);
	assert.deepEqual([...new Set(phases)], ['checksum', 'creating', 'restoring', 'dropping']);
	assert.ok(scratch.startsWith(scratchPrefix));
	assert.equal(await databaseExists(scratch), false);
	assert.equal(readCatalog(key, env).find(r => r.id === custom.id)?.restoreTest?.passed, true);
	assert.equal(readAudit(key, 1, env)[0]?.result, 'cancelled');
});

test("a role that may not read everything: the backup fails with pg_dump's reason, the restore test says what to grant", async () => {
	const plain = resolveTarget({dsn: await plainRole(db), env: {}});
	const before = filesIn(dir);
	await assert.rejects(runBackup({target: plain, dir, env}), /backup failed: pg_dump: error: query failed: ERROR: permission denied for sequence \w+ \(the backup role must read every table and sequence: GRANT pg_read_all_data TO it/);
	assert.deepEqual(filesIn(dir), before);
	await assert.rejects(
		runRestoreTest({target: plain, record: custom, env}),
		/restore test could not run: role plain_user cannot create databases, and the restore test needs a scratch one: ALTER ROLE plain_user CREATEDB/,
	);
});

test('rows committed while the backup runs are in neither the dump nor the counts: one snapshot', async () => {
	const usersBefore = Number((await db.client.query<{n: string}>('SELECT count(*) AS n FROM users')).rows[0]!.n);
	const backup = await whileLocked('notifications', async () => {
		const running = runBackup({target, dir, env, format: 'plain'});
		await waitFor(pgDumpWaitingOnLock, {message: 'pg_dump waiting on the lock'});
		await db.client.query("INSERT INTO users (email) VALUES ('during-backup@example.com')");
		return {running};
	});
	const plain = await backup.running;
	assert.equal(plain.rowCounts['public.users'], usersBefore);
	assert.match(plain.file, /\.sql\.gz$/);
	assert.deepEqual([...fs.readFileSync(plain.file).subarray(0, 2)], [0x1f, 0x8b]);

	const result = await runRestoreTest({target, record: plain, env});
	assert.deepEqual(result.differences, []);
	assert.equal(result.passed, true);
	await db.client.query("DELETE FROM users WHERE email = 'during-backup@example.com'");
});

test('an altered or truncated file fails the checksum and the restore test, with the reason', async () => {
	const victim = await runBackup({target, dir, env});
	const bytes = fs.readFileSync(victim.file);
	bytes[bytes.length - 100]! ^= 0xff;
	fs.writeFileSync(victim.file, bytes);
	const altered = await runRestoreTest({target, record: victim, env});
	assert.equal(altered.passed, false);
	assert.equal(altered.checksum, 'mismatch');
	assert.match(altered.differences[0]!, /checksum failed: .* has sha256 [0-9a-f]{16}…, the backup had [0-9a-f]{16}… \(the file changed after the backup\)/);

	fs.truncateSync(victim.file, Math.floor(bytes.length / 2));
	const truncated = await runRestoreTest({target, record: victim, env});
	assert.equal(truncated.passed, false);
	assert.match(truncated.differences[0]!, /checksum failed: .* is \d+ bytes, the backup was \d+ bytes \(truncated or replaced\)/);
	assert.equal(readCatalog(key, env).find(r => r.id === victim.id)?.restoreTest?.passed, false);
	// refused before any scratch database was made
	assert.equal(truncated.scratchDatabase, '');
	fs.rmSync(victim.file);
	fs.rmSync(`${victim.file}.sha256`);
});

test('pg_dump killed mid-way leaves nothing that looks like a backup, and no session behind', async () => {
	const before = filesIn(dir);
	const catalogBefore = readCatalog(key, env).length;
	let progress: BackupProgress | undefined;
	await whileLocked('jobs', async () => {
		const backup = runBackup({target, dir, env, onProgress: p => (progress = p)});
		await waitFor(pgDumpWaitingOnLock, {message: 'pg_dump waiting on the lock'});
		assert.ok(fs.existsSync(`${progress!.file}.partial`), 'pg_dump is writing the partial file');
		process.kill(progress!.pid!, 'SIGKILL');
		await assert.rejects(backup, (error: CliError) => {
			assert.match(error.message, /^backup failed: pg_dump was killed by SIGKILL$/);
			assert.equal(error.exitCode, 1);
			return true;
		});
	});
	assert.deepEqual(filesIn(dir), before);
	assert.equal(readCatalog(key, env).length, catalogBefore);
	assert.equal(readAudit(key, 1, env)[0]?.result, 'failed');
	await waitFor(async () => (await db.client.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'intowork-db/backup'")).rowCount === 0, {
		message: 'the counting connection is gone',
	});
});

test('cancel stops pg_dump and removes the partial file', async () => {
	const before = filesIn(dir);
	const controller = new AbortController();
	await whileLocked('jobs', async () => {
		const backup = runBackup({target, dir, env, signal: controller.signal});
		await waitFor(pgDumpWaitingOnLock, {message: 'pg_dump waiting on the lock'});
		controller.abort();
		await assert.rejects(backup, /backup cancelled; the partial file was removed/);
	});
	assert.deepEqual(filesIn(dir), before);
	assert.equal(readAudit(key, 1, env)[0]?.result, 'cancelled');
});

test('restore refuses the source database, and a non-empty one without force', async () => {
	await assert.rejects(runRestore({target, file: custom.file, into: db.name, env}), /refusing to restore into t_\S+: it is the source database/);
	assert.equal(readAudit(key, 1, env)[0]?.result, 'refused');

	const into = `restored_${process.pid}`;
	intoNames.push(into);
	await db.client.query(`CREATE DATABASE ${into}`);
	const other = new pg.Client({connectionString: urlFor(db.info, into)});
	await other.connect();
	await other.query('CREATE TABLE keep_me (id int)');
	await assert.rejects(runRestore({target, file: custom.file, into, env}), /restore failed: database restored_\d+ is not empty \(1 tables, views or sequences\); add --force to replace it/);
	// someone still connected: the swap cannot happen, and nothing changes
	let staging = '';
	const blocked = runRestore({target, file: custom.file, into, force: true, env, onProgress: p => (staging = p.database ?? staging)});
	await assert.rejects(blocked, /restore failed: 1 session\(s\) are connected to restored_\d+; it can only be replaced once they disconnect \(nothing was changed\)/);
	assert.equal((await other.query("SELECT to_regclass('keep_me') IS NOT NULL AS kept")).rows[0].kept, true);
	assert.equal(staging, '', 'refused before any database was made');
	await other.end();

	const outcome = await runRestore({target, file: custom.file, into, force: true, env});
	assert.equal(outcome.replaced, true);
	assert.equal(outcome.compared, true);
	const restored = new pg.Client({connectionString: urlFor(db.info, into)});
	await restored.connect();
	try {
		assert.deepEqual(await actualCounts(restored), custom.rowCounts);
		assert.equal((await restored.query("SELECT to_regclass('keep_me') AS t")).rows[0].t, null);
	} finally {
		await restored.end();
	}
	assert.equal(readAudit(key, 1, env)[0]?.action, 'restore');
});
