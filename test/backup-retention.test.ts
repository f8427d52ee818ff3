import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {readAudit} from '../source/audit.js';
import {readCatalog, writeCatalog, type BackupRecord} from '../source/actions/backup/catalog.js';
import {spaceShortfall} from '../source/actions/backup/files.js';
import {applyRetention, planRetention} from '../source/actions/backup/retention.js';
import {cronLine, passwordlessUrl} from '../source/actions/backup/schedule.js';
import type {Target} from '../source/db/dsn.js';

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-retention-'));
after(() => fs.rmSync(state, {recursive: true, force: true}));

const dir = path.join(state, 'backups');
const day = 86_400_000;
const now = Date.parse('2026-03-10T03:00:00Z');

/** Backup n, taken n days before now; `passed` gives it a passing restore test. */
function record(n: number, options: {passed?: boolean; failed?: boolean; dir?: string} = {}): BackupRecord {
	const at = new Date(now - n * day).toISOString();
	return {
		id: `b${n}`,
		file: path.join(options.dir ?? dir, `db_${n}.dump`),
		format: 'custom',
		sizeBytes: 10,
		sha256: 'x'.repeat(64),
		startedAt: at,
		finishedAt: at,
		durationMs: 1000,
		serverVersion: '15.18',
		database: 'db',
		rowCounts: {},
		...((options.passed || options.failed) && {restoreTest: {at, passed: Boolean(options.passed), differences: [], scratchDatabase: 's', durationMs: 1}}),
	};
}

const ids = (records: readonly BackupRecord[]) => records.map(r => r.id);

test('nothing is removed until a backup in the directory has passed a restore test', () => {
	const plan = planRetention([record(0), record(1), record(2, {failed: true}), record(3)], dir, {keep: 1}, now);
	assert.deepEqual(plan.remove, []);
	assert.match(plan.note!, /no backup in .* has passed a restore test yet, so none is removed/);
});

test('keep N keeps the newest N and never anything at or after the newest verified backup', () => {
	const records = [record(0), record(1), record(2, {passed: true}), record(3), record(4, {passed: true}), record(5)];
	// b2 is the newest verified: b0, b1 (newer, untested) and b2 stay whatever N says
	assert.deepEqual(ids(planRetention(records, dir, {keep: 1}, now).remove), ['b3', 'b4', 'b5']);
	assert.deepEqual(ids(planRetention(records, dir, {keep: 4}, now).remove), ['b4', 'b5']);
	assert.deepEqual(ids(planRetention(records, dir, {keep: 10}, now).remove), []);
	assert.equal(planRetention(records, dir, {keep: 1}, now).anchor?.id, 'b2');
});

test('keep N days removes older ones, only those older than the newest verified backup', () => {
	const records = [record(0), record(3, {passed: true}), record(8), record(9, {passed: true}), record(30)];
	assert.deepEqual(ids(planRetention(records, dir, {keepDays: 7}, now).remove), ['b8', 'b9', 'b30']);
	assert.deepEqual(ids(planRetention(records, dir, {keepDays: 1}, now).remove), ['b8', 'b9', 'b30']);
	// the only verified backup is 3 days old: with keep 1 day, b0 (untested) and b3 both stay
	assert.deepEqual(ids(planRetention([record(0), record(3, {passed: true}), record(5)], dir, {keepDays: 1}, now).remove), ['b5']);
});

test('backups in another directory and ones already removed are left alone', () => {
	const elsewhere = record(20, {dir: path.join(state, 'weekly')});
	const gone = {...record(21), removedAt: new Date(now).toISOString()};
	assert.deepEqual(ids(planRetention([record(0, {passed: true}), record(10), elsewhere, gone], dir, {keep: 1}, now).remove), ['b10']);
});

test('applying retention deletes the files and their checksums, marks the records, says so in the audit log, and leaves strangers alone', () => {
	const env = {INTOWORK_DB_STATE: state};
	const key = {host: 'db.example', port: 5432, database: 'db'};
	fs.mkdirSync(dir, {recursive: true});
	const records = [record(0, {passed: true}), record(1), record(2)];
	for (const r of records) {
		fs.writeFileSync(r.file, 'dump');
		fs.writeFileSync(`${r.file}.sha256`, 'sum');
	}
	fs.writeFileSync(path.join(dir, 'someone-elses.dump'), 'not ours');
	writeCatalog(key, records, env);

	const plan = applyRetention({key, role: 'postgres', target: 'postgres@db.example:5432/db'}, dir, {keep: 2}, env);
	assert.deepEqual(ids(plan.remove), ['b2']);
	assert.deepEqual(fs.readdirSync(dir).sort(), ['db_0.dump', 'db_0.dump.sha256', 'db_1.dump', 'db_1.dump.sha256', 'someone-elses.dump']);
	assert.deepEqual(
		readCatalog(key, env).map(r => [r.id, Boolean(r.removedAt)]),
		[
			['b0', false],
			['b1', false],
			['b2', true],
		],
	);
	const entry = readAudit(key, 1, env)[0]!;
	assert.equal(entry.action, 'backup.retention');
	assert.deepEqual(entry.detail?.removed, [records[2]!.file]);
});

test('free space: the estimate plus a reserve must fit', () => {
	const gb = 1024 ** 3;
	assert.equal(spaceShortfall('/b', {free: 50 * gb, total: 100 * gb}, {bytes: 10 * gb, basis: 'last'}), undefined);
	assert.equal(
		spaceShortfall('/b', {free: 10.5 * gb, total: 100 * gb}, {bytes: 10 * gb, basis: 'the last custom backup was 8.0 GB'}),
		'not enough free space in /b: 10.5 GB free, the backup needs about 10.0 GB (the last custom backup was 8.0 GB) and 1.0 GB must stay free',
	);
});

test('the cron line has no password, absolute paths, and is quoted for sh and cron', () => {
	const target: Target = {host: 'db.internal', port: 5432, user: 'backup', password: 's3cret%', database: 'into work', source: 'argument'};
	assert.equal(passwordlessUrl(target), 'postgresql://backup@db.internal:5432/into%20work');
	const line = cronLine({target, program: ['/usr/bin/node', '/opt/intowork-db/dist/cli.js'], format: 'plain', keep: 7, stateDir: '/var/lib/intowork db'});
	assert.equal(
		line,
		"30 2 * * * INTOWORK_DB_STATE='/var/lib/intowork db' /usr/bin/node /opt/intowork-db/dist/cli.js backup --dsn postgresql://backup@db.internal:5432/into\\%20work --format plain --verify --keep 7",
	);
	assert.doesNotMatch(line, /s3cret/);
	assert.equal(passwordlessUrl({...target, host: '/var/run/postgresql'}), 'postgresql://backup@:5432/into%20work?host=%2Fvar%2Frun%2Fpostgresql');
});
