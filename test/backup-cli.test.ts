import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {fileURLToPath} from 'node:url';
import pg from 'pg';
import {readAudit} from '../source/audit.js';
import {readCatalog} from '../source/actions/backup/catalog.js';
import {targetKey} from '../source/state.js';
import {resolveTarget} from '../source/db/dsn.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {splitProgress} from './helpers/cli.js';
import {dropDatabases, testDatabase, urlFor} from './helpers/db.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-backup-cli-'));
const dir = path.join(state, 'nightly');
const db = await testDatabase();
const key = targetKey(resolveTarget({dsn: db.url, env: {}}));
const into = `cli_restored_${process.pid}`;
after(async () => {
	fs.rmSync(state, {recursive: true, force: true});
	await dropDatabases(db.info, [into]);
});

type Run = {code: number | null; stdout: string; stderr: string; progress: string[]};

/** The built CLI as cron runs it: no terminal, the target in DATABASE_URL. */
function run(...args: string[]): Promise<Run> {
	return new Promise(resolve => {
		const child = spawn(process.execPath, [cli, ...args], {env: {...process.env, DATABASE_URL: db.url, INTOWORK_DB_STATE: state, PGPASSWORD: ''}});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', chunk => (stdout += chunk));
		child.stderr.on('data', chunk => (stderr += chunk));
		child.on('close', code => resolve({code, stdout, ...splitProgress(stderr)}));
	});
}

function lines(text: string): string[] {
	return text.trimEnd().split('\n');
}

test('backup --verify --keep 1, twice: each is restore-tested, and the second run removes the first', async () => {
	const first = await run('backup', '--dir', dir, '--verify', '--keep', '1');
	// without a terminal: one plain line per phase on stderr, nothing else there; the result on stdout
	assert.equal(first.stderr, '');
	assert.match(first.progress.join('\n'), /^\[ *\S+\] connecting to the server\n\[ *\S+\] preparing: /);
	assert.doesNotMatch(first.progress.join('\n'), /\u001B/);
	assert.equal(first.code, 0);
	const out = lines(first.stdout);
	assert.match(out[0]!, new RegExp(`^backup ok: ${dir}/${db.name}_\\d{8}T\\d{6}Z\\.dump$`));
	assert.match(out[1]!, /^ {2}\d+(\.\d)? [kM]?B, 16 tables, [\d,]+ rows, .*pg_dump 15\.\d+, server 15\.\d+$/);
	assert.match(out[2]!, /^ {2}sha256 [0-9a-f]{64}$/);
	assert.match(out[3]!, /^restore test passed for .*: 16 tables and [\d,]+ rows match the snapshot exactly, and so do the tables, indexes and constraints/);
	assert.equal(out[4], `retention (keep the newest 1): nothing to remove`);
	// a cron mail: plain lines, no escape sequences
	assert.doesNotMatch(first.stdout, /\u001B/);
	const firstFile = out[0]!.slice('backup ok: '.length);

	const second = await run('backup', '--dir', dir, '--verify', '--keep', '1');
	assert.equal(second.code, 0, second.stderr);
	const out2 = lines(second.stdout);
	const secondFile = out2[0]!.slice('backup ok: '.length);
	assert.match(out2[4]!, new RegExp(`^retention \\(keep the newest 1\\): removed 1, all older than ${path.basename(secondFile)}, which passed its restore test:$`));
	assert.match(out2[5]!, new RegExp(`^ {2}removed ${firstFile} \\(`));
	assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(secondFile), `${path.basename(secondFile)}.sha256`]);
	const catalog = readCatalog(key, {INTOWORK_DB_STATE: state});
	assert.ok(catalog.find(r => r.file === firstFile)?.removedAt);
	assert.equal(readAudit(key, 50, {INTOWORK_DB_STATE: state}).filter(e => e.action === 'backup.retention').length, 1);
});

test('restore-test takes the latest backup by default; an unknown file is a clear failure', async () => {
	const latest = await run('restore-test');
	assert.equal(latest.code, 0, latest.stderr);
	assert.match(latest.stdout, /^restore test passed for .*\.dump: 16 tables/);

	const unknown = await run('restore-test', path.join(state, 'nope.dump'));
	assert.equal(unknown.code, 1);
	assert.equal(unknown.stdout, '');
	assert.match(unknown.stderr, /^.*nope\.dump is not in the backup catalog of t_\S+ \(only backups taken by intowork-db backup have the row counts to compare\)\n$/);
});

test('restore refuses the source database, restores into a new one, and reports the check', async () => {
	const file = fs.readdirSync(dir).find(f => f.endsWith('.dump'))!;
	const source = await run('restore', path.join(dir, file), '--into', db.name);
	assert.equal(source.code, 2);
	assert.match(source.stderr, /^refusing to restore into t_\S+: it is the source database of this backup; restore into another database and switch over \(the file was dumped from database t_\S+ on this server \(system identifier \d+\)\)\n$/);

	const restored = await run('restore', path.join(dir, file), '--into', into);
	assert.equal(restored.code, 0, restored.stderr);
	assert.match(restored.stdout, new RegExp(`^restored .*\\.dump into ${into}: 16 tables, [\\d,]+ rows; row counts, tables, indexes and constraints match the backup`));
	const check = new pg.Client({connectionString: urlFor(db.info, into)});
	await check.connect();
	try {
		const [a, b] = await Promise.all([check.query('SELECT count(*) AS n FROM job_applications'), db.client.query('SELECT count(*) AS n FROM job_applications')]);
		assert.equal(a.rows[0].n, b.rows[0].n);
	} finally {
		await check.end();
	}
});

test('a changed file fails the restore test with the reason, exit 1', async () => {
	const file = path.join(dir, fs.readdirSync(dir).find(f => f.endsWith('.dump'))!);
	fs.appendFileSync(file, 'x');
	const changed = await run('restore-test', file);
	assert.equal(changed.code, 1);
	assert.match(changed.stdout, /^restore test FAILED for .*: 1 problem\n {2}checksum failed: .* is \d+ bytes, the backup was \d+ bytes \(truncated or replaced\)\n$/);
});

test('a server newer than any pg_dump here: a clear line saying what to install, exit 1', async () => {
	const server = await startCluster(18, {template: false});
	try {
		const url = `postgresql://${server.user}:${server.password}@127.0.0.1:${server.port}/postgres`;
		const r = await run('backup', '--dsn', url, '--dir', path.join(state, 'pg18'));
		assert.equal(r.code, 1);
		assert.equal(r.stdout, '');
		assert.match(
			r.stderr,
			/^backup failed: no pg_dump for PostgreSQL 18 \(found only 15\.\d+ in \/usr\/lib\/postgresql\/15\/bin\); install the PostgreSQL 18 client tools \(Debian\/Ubuntu: apt install postgresql-client-18 .*\) or point --pg-bin at a directory holding pg_dump 18\n$/,
		);
		assert.deepEqual(fs.readdirSync(path.join(state, 'pg18')), []);
	} finally {
		await stopCluster(server);
	}
});

test('bad input: one line, exit 2, nothing done', async () => {
	const before = fs.readdirSync(dir).sort();
	for (const [args, message] of [
		[['backup', '--format', 'zip'], /^--format: "zip" is not custom or plain\n$/],
		[['backup', '--keep', '2', '--keep-days', '3'], /^give either --keep N or --keep-days N, not both\n$/],
		[['backup', '--keep', 'all'], /^--keep: "all" is not a whole number of 1 or more\n$/],
		[['backup', '--read-only'], /^backup changes the disk or the server, and --read-only was given\n$/],
		[['restore', 'x.dump'], /^restore: --into DB is required: the database to restore into\n$/],
	] as const) {
		const r = await run(...args);
		assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
		assert.match(r.stderr, message);
		assert.equal(r.stdout, '');
	}
	assert.deepEqual(fs.readdirSync(dir).sort(), before);
});
