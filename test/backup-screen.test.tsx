import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test, type TestContext} from 'node:test';
import {runBackup} from '../source/actions/backup/backup.js';
import {readCatalog, type BackupRecord} from '../source/actions/backup/catalog.js';
import {runRestoreTest} from '../source/actions/backup/restore-test.js';
import {targetKey} from '../source/state.js';
import {resolveTarget} from '../source/db/dsn.js';
import {sessionPool} from './helpers/backends.js';
import type {TestDatabase} from './helpers/db.js';
import {own} from './helpers/own.js';
import {jobMs, type RenderedApp} from './helpers/render.js';

type Setup = {db: TestDatabase; state: string; key: ReturnType<typeof targetKey>; app: RenderedApp; first?: BackupRecord; defer(fn: () => unknown): void};

/**
 * Each test's own state: a database copied from the template, a state dir (the catalog, the backups),
 * optionally a backup already taken (and restore-tested), and a console of its own, all gone after the test.
 */
async function setup(t: TestContext, options: {backup?: boolean; restoreTested?: boolean} = {}): Promise<Setup> {
	const {db, stateDir: state, defer, app: console_} = await own(t, 'backup-screen');
	const target = resolveTarget({dsn: db.url, env: {}});
	let first: BackupRecord | undefined;
	if (options.backup || options.restoreTested) first = await runBackup({target});
	if (first && options.restoreTested) {
		await runRestoreTest({target, record: first});
		first = readCatalog(targetKey(target)).find(r => r.id === first!.id)!;
		assert.equal(first.restoreTest?.passed, true, 'the set-up restore test passed');
	}
	const app = await console_({screen: 'backups'});
	return {db, state, key: targetKey(target), app, first, defer};
}

/** The files in the backup folder: a cancelled backup leaves nothing behind, a partial file least of all. */
const backupFiles = (first: BackupRecord) => fs.readdirSync(path.dirname(first.file)).sort();

test('the catalog, where backups go, the disk, pg_dump and the cron line', async t => {
	const {app, db, state, first} = await setup(t, {backup: true});
	const frame = await app.waitForFrame(/pg_dump 15\.\d+ in \/usr\/lib\/postgresql\/15\/bin/);
	assert.match(frame, new RegExp(`Backups in ${state}/\\S+/backups\n`));
	assert.match(frame, /Disk [\d.]+ [MGT]B free of [\d.]+ [GT]B · database [\d.]+ MB · format custom/);
	assert.match(frame, /File\s+Size\s+Started↓\s+Took\s+Server\s+Checksum\s+Restore test/, 'newest first: Started is marked');
	assert.match(frame, new RegExp(`${path.basename(first!.file)}\\s+\\d+(\\.\\d)? kB\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+\\S+\\s+15\\.\\d+\\s+recorded\\s+never`));
	// the cron line: the real command, the target without its password
	const flat = frame.replace(/\s*\n\s*/g, ' ');
	assert.ok(flat.includes(`30 2 * * * INTOWORK_DB_STATE=${state} intowork-db backup --dsn postgresql://postgres@127.0.0.1:${db.info.port}/${db.name} --verify --keep 7`));
	assert.doesNotMatch(frame, /postgres:postgres@/);
});

/** pg_dump waits on this lock, so the progress stays on screen until the test acts. */
async function lockJobs({db, defer}: Setup): Promise<void> {
	await sessionPool(db, defer).holding('test-locker', 'LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE');
}

test('b asks first, shows live progress, and x cancels without leaving a file', async t => {
	const setUp = await setup(t, {backup: true});
	const {app, first} = setUp;
	await lockJobs(setUp);
	await app.waitForFrame(/recorded\s+never/, 'the first backup listed');
	app.press('b');
	const dialog = await app.waitForFrame(/Back up t_\S+ now\?/);
	assert.match(dialog, /pg_dump 15\.\d+ in an exported snapshot/);
	assert.match(dialog, /y\/Enter back up · n\/Esc cancel/);
	app.press('y');
	const progress = await app.waitForFrame(/Backing up: dumping: 0\/16 tables · [\d.]+ k?B written · rows counted in 0\/16 · [\d.]+m?s · x cancel/, 'the backup waiting on the lock', jobMs.backup);
	assert.doesNotMatch(progress, /Back up t_\S+ now\?/);
	app.press('x');
	await app.waitForFrame(/backup cancelled; the partial file was removed/);
	assert.deepEqual(backupFiles(first!), [path.basename(first!.file), `${path.basename(first!.file)}.sha256`]);
});

test('on quit, a running backup is cancelled and cleaned up before the console goes', async t => {
	const setUp = await setup(t, {backup: true});
	const {app, first} = setUp;
	await lockJobs(setUp);
	await app.waitForFrame(/recorded\s+never/, 'the first backup listed');
	app.press('b');
	await app.waitForFrame(/Back up t_\S+ now\?/);
	app.press('y');
	await app.waitForFrame(/Backing up: dumping/, 'the backup waiting on the lock', jobMs.backup);
	await app.jobs.cancelAll();
	assert.deepEqual(backupFiles(first!), [path.basename(first!.file), `${path.basename(first!.file)}.sha256`]);
	await app.waitForFrame(/backup cancelled; the partial file was removed/);
});

test('b then y takes a backup that appears in the list', async t => {
	const {app, key} = await setup(t);
	await app.waitForFrame(/No backups yet: b takes one\./);
	app.press('b');
	await app.waitForFrame(/Back up t_\S+ now\?/);
	app.press('y');
	await app.waitForFrame(/backup ok: t_\S+\.dump · [\d.]+ kB, 16 tables/, 'backup ok', jobMs.backup);
	const records = readCatalog(key);
	assert.equal(records.length, 1);
	// the row, not just the message naming the file
	await app.waitForFrame(new RegExp(`${path.basename(records[0]!.file)}\\s+\\d+ kB .*recorded\\s+never`));
});

test('r restore-tests the selected backup and shows the result', async t => {
	const {app, key} = await setup(t, {backup: true});
	await app.waitForFrame(/recorded\s+never/, 'the backup listed');
	app.press('r');
	const dialog = await app.waitForFrame(/Restore-test t_\S+\.dump\?/);
	assert.match(dialog, /restores into a new scratch database intowork_restore_test_…/);
	app.press('y');
	await app.waitForFrame(/restore test passed for .*: 16 tables and [\d,]+ rows match the snapshot exactly/, 'restore test passed', jobMs.restoreTest);
	await app.waitForFrame(/verified\s+passed \d+(\.\d)?m?s ago/);
	assert.equal(readCatalog(key).filter(r => r.restoreTest?.passed).length, 1);
});

test('Enter shows the selected backup in detail, Esc goes back', async t => {
	const {app} = await setup(t, {restoreTested: true});
	await app.waitForFrame(/verified\s+passed/, 'the restore-tested backup listed');
	app.press('\r');
	const frame = await app.waitForFrame(/Rows counted in the backup's snapshot:/);
	assert.match(frame, /sha256 [0-9a-f]{64}\nchecksum verified · started/);
	assert.match(frame, /Restore test passed/);
	assert.match(frame, /\d+ public\.job_applications/);
	app.press('\u001B');
	await app.waitForFrame(/File\s+Size\s+Started↓/);
});

test('read-only: b and r are not bound and not offered', async t => {
	const {app} = await setup(t, {backup: true});
	await app.waitForFrame(/b backup/);
	app.store.setState({readOnly: true});
	// the footer's hints for this screen now start with f
	const frame = await app.waitForFrame(/\nf format {2}x cancel {2}│/);
	assert.doesNotMatch(frame.split('\n').at(-1)!, /b backup|r restore test/);
	app.store.setState({readOnly: false});
	await app.waitForFrame(/b backup/);
});

test('80 columns: the list drops the least important columns instead of wrapping', async t => {
	const {app, first} = await setup(t, {backup: true});
	app.store.setState({size: {columns: 80, rows: 24}});
	// the sort column (newest first) stays whole; the name gives up its middle
	const frame = await app.waitForFrame(/\n {2}File\s+Size Started↓\s+Checksum\s+Restore test\s+\+2\n/);
	assert.match(frame, new RegExp(`\\n› \\S+…\\S*${path.basename(first!.file).slice(-8).replace('.', '\\.')}\\s+\\d+(\\.\\d)? kB \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+recorded\\s+never\\n`));
	for (const line of frame.split('\n')) assert.ok(line.length <= 80, line);
});
