import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {runBackup} from '../source/actions/backup/backup.js';
import {readCatalog, type BackupRecord} from '../source/actions/backup/catalog.js';
import {runRestoreTest} from '../source/actions/backup/restore-test.js';
import {targetKey} from '../source/actions/backup/session.js';
import {backupCheck, evaluatePreflight, readFastChecks} from '../source/actions/migration/preflight.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {inspectMigration} from '../source/actions/migration/status.js';
import {judgeRestore, readBackups} from '../source/checklist/backups.js';
import {resolveTarget} from '../source/db/dsn.js';
import {runCli} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-backup-truth-'));
process.env.INTOWORK_DB_STATE = state;
const env = {...process.env, INTOWORK_DB_STATE: state};
after(() => fs.rmSync(state, {recursive: true, force: true}));

const db = await testDatabase();
const target = resolveTarget({dsn: db.url, env: {}});
const key = targetKey(target);

/**
 * The two kinds a real database has after failed builds: a concurrent build
 * that failed on a duplicate leaves its index not ready (and not valid); one
 * marked ready but not valid is what a build stopped in its validation phase leaves.
 */
async function leaveInvalidIndexes(): Promise<void> {
	await assert.rejects(db.client.query('CREATE UNIQUE INDEX CONCURRENTLY accounts_type_broken ON accounts (type)'), /could not create unique index/);
	await db.client.query('CREATE INDEX jobs_title_unvalidated ON jobs (title)');
	await db.client.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'jobs_title_unvalidated'::regclass");
	const r = await db.client.query<{name: string; ready: boolean}>(
		"SELECT c.relname AS name, x.indisready AS ready FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE NOT x.indisvalid ORDER BY 1",
	);
	assert.deepEqual(r.rows, [
		{name: 'accounts_type_broken', ready: false},
		{name: 'jobs_title_unvalidated', ready: true},
	]);
}

test('a database with INVALID indexes: backup --verify passes, and the output says which indexes the backup leaves out', async () => {
	await leaveInvalidIndexes();
	const r = await runCli(['backup', '--dir', path.join(state, 'invalid'), '--verify'], {env: {DATABASE_URL: db.url, INTOWORK_DB_STATE: state}});
	assert.equal(r.stderr, '');
	assert.equal(r.code, 0, r.stdout);
	const lines = r.stdout.trimEnd().split('\n');
	assert.equal(lines[3], '  2 INVALID indexes left out (pg_dump never dumps one; not compared after restore): public.accounts_type_broken, public.jobs_title_unvalidated');
	assert.match(lines[4]!, /^restore test passed for .*: 16 tables and [\d,]+ rows match the snapshot exactly, and so do the tables, indexes and constraints .*; 2 INVALID indexes left out/);
	const record = readCatalog(key, env).at(-1)!;
	assert.deepEqual(record.objects?.invalidIndexes, ['public.accounts_type_broken', 'public.jobs_title_unvalidated']);
	assert.ok(!record.objects?.indexes.includes('public.accounts_type_broken'));
	assert.equal(record.restoreTest?.passed, true);
});

test("the pre-flight does not say a not-ready INVALID index is updated on every write", async () => {
	const fast = await readFastChecks(db.client, builtinPlan);
	const report = evaluatePreflight('apply', builtinPlan, await inspectMigration(db.client, builtinPlan), fast, undefined, backupCheck([]));
	assert.equal(
		report.items.find(i => i.id === 'invalid')!.summary,
		'2 INVALID (left by failed concurrent builds; never used by queries, yet each one whose build got past its first phase (pg_index.indisready) is still updated on every write)',
	);
});

test('checklist item 6 counts a restore test only while the file still has the size and sha256 it was tested with', async () => {
	const record = await runBackup({target, dir: path.join(state, 'corrupt'), env});
	const result = await runRestoreTest({target, record, env});
	assert.equal(result.passed, true, result.differences.join('\n'));
	assert.equal(result.sha256, record.sha256);
	assert.equal(result.sizeBytes, record.sizeBytes);
	const before = judgeRestore(await readBackups(key, env));
	assert.equal(before.verdict, 'pass', before.evidence.join('\n'));
	assert.match(before.evidence[0]!, /row counts and objects match, and the file still has the size and sha256 it was tested with$/);

	// one byte in the middle changed: the same size, another sha256
	const fd = fs.openSync(record.file, 'r+');
	const at = Math.floor(record.sizeBytes / 2);
	const byte = Buffer.alloc(1);
	fs.readSync(fd, byte, 0, 1, at);
	byte[0] = byte[0]! ^ 0xff;
	fs.writeSync(fd, byte, 0, 1, at);
	fs.closeSync(fd);
	const after = judgeRestore(await readBackups(key, env));
	assert.equal(after.verdict, 'fail');
	assert.match(after.evidence[0]!, new RegExp(`^latest backup ${record.id} passed a restore test .* ago, but its file has another sha256 since the test: that result no longer counts`));

	fs.truncateSync(record.file, 10);
	assert.match(judgeRestore(await readBackups(key, env)).evidence[0]!, /but its file has another size since the test/);
	fs.rmSync(record.file);
	assert.match(judgeRestore(await readBackups(key, env)).evidence[0]!, /but its file is gone since the test/);
});

test('a backup whose restore test failed is called that by the pre-flight, not "not restore-tested"', () => {
	const base: BackupRecord = {
		id: 'b1',
		file: '/backups/b1.dump',
		format: 'custom',
		sizeBytes: 1 << 20,
		sha256: 'x',
		startedAt: new Date(Date.now() - 3_600_000).toISOString(),
		finishedAt: new Date(Date.now() - 3_600_000).toISOString(),
		durationMs: 1000,
		serverVersion: '15',
		database: db.name,
		rowCounts: {},
	};
	const failed = {...base, restoreTest: {at: new Date().toISOString(), passed: false, differences: ['table x missing'], scratchDatabase: 's', durationMs: 5}};
	assert.equal(backupCheck([failed]).summary, 'last backup 1h00m ago (1.0 MB, its restore test FAILED)');
	assert.equal(backupCheck([base]).summary, 'last backup 1h00m ago (1.0 MB, not restore-tested)');
});
