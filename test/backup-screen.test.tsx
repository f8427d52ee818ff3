import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {runBackup} from '../source/actions/backup/backup.js';
import {readCatalog} from '../source/actions/backup/catalog.js';
import {targetKey} from '../source/state.js';
import {resolveTarget} from '../source/db/dsn.js';
import {testDatabase, waitFor} from './helpers/db.js';
import {renderApp} from './helpers/render.js';

// Before anything reads it: the screen and the actions find the catalog through it.
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-backup-screen-'));
process.env.INTOWORK_DB_STATE = state;
const db = await testDatabase();
const target = resolveTarget({dsn: db.url, env: {}});
const key = targetKey(target);
const first = await runBackup({target});
const app = await renderApp(db.url, {screen: 'backups'});
after(async () => {
	await app.cleanup();
	fs.rmSync(state, {recursive: true, force: true});
});

test('the catalog, where backups go, the disk, pg_dump and the cron line', async () => {
	const frame = await app.waitForFrame(/pg_dump 15\.\d+ in \/usr\/lib\/postgresql\/15\/bin/);
	assert.match(frame, new RegExp(`Backups in ${state}/\\S+/backups\n`));
	assert.match(frame, /Disk [\d.]+ [MGT]B free of [\d.]+ [GT]B · database [\d.]+ MB · format custom/);
	assert.match(frame, /File\s+Size\s+Started\s+Took\s+Server\s+Checksum\s+Restore test/);
	assert.match(frame, new RegExp(`${path.basename(first.file)}\\s+\\d+(\\.\\d)? kB\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+\\S+\\s+15\\.\\d+\\s+recorded\\s+never`));
	// the cron line: the real command, the target without its password
	const flat = frame.replace(/\s*\n\s*/g, ' ');
	assert.ok(flat.includes(`30 2 * * * INTOWORK_DB_STATE=${state} intowork-db backup --dsn postgresql://postgres@127.0.0.1:${db.info.port}/${db.name} --verify --keep 7`));
	assert.doesNotMatch(frame, /postgres:postgres@/);
});

test('b asks first, shows live progress, and x cancels without leaving a file', async () => {
	const locker = new pg.Client({connectionString: db.url});
	await locker.connect();
	try {
		// pg_dump waits on this lock, so the progress stays on screen until we act
		await locker.query('BEGIN');
		await locker.query('LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE');
		app.press('b');
		const dialog = await app.waitForFrame(/Back up t_\S+ now\?/);
		assert.match(dialog, /pg_dump 15\.\d+ in an exported snapshot/);
		assert.match(dialog, /y\/Enter back up · n\/Esc cancel/);
		app.press('y');
		const progress = await app.waitForFrame(/Backing up: dumping: 0\/16 tables · [\d.]+ k?B written · rows counted in 0\/16 · [\d.]+m?s · x cancel/);
		assert.doesNotMatch(progress, /Back up t_\S+ now\?/);
		app.press('x');
		await app.waitForFrame(/backup cancelled; the partial file was removed/);
	} finally {
		await locker.query('ROLLBACK').catch(() => undefined);
		await locker.end();
	}
	assert.deepEqual(fs.readdirSync(path.dirname(first.file)).sort(), [path.basename(first.file), `${path.basename(first.file)}.sha256`]);
});

test('on quit (the job registry cancelling every job), a running backup is cancelled and cleaned up before the console goes', async () => {
	const locker = new pg.Client({connectionString: db.url});
	await locker.connect();
	try {
		await locker.query('BEGIN');
		await locker.query('LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE');
		app.press('b');
		await app.waitForFrame(/Back up t_\S+ now\?/);
		app.press('y');
		await app.waitForFrame(/Backing up: dumping/);
		await app.jobs.cancelAll();
		assert.deepEqual(fs.readdirSync(path.dirname(first.file)).sort(), [path.basename(first.file), `${path.basename(first.file)}.sha256`]);
		await app.waitForFrame(/backup cancelled; the partial file was removed/);
	} finally {
		await locker.query('ROLLBACK').catch(() => undefined);
		await locker.end();
	}
});

test('b then y takes a backup that appears in the list', async () => {
	app.press('b');
	await app.waitForFrame(/Back up t_\S+ now\?/);
	app.press('y');
	await app.waitForFrame(/backup ok: t_\S+\.dump · [\d.]+ kB, 16 tables/);
	await waitFor(() => readCatalog(key).length === 2);
	const second = readCatalog(key).find(r => r.id !== first.id)!;
	// the row, not just the message naming the file
	await app.waitForFrame(new RegExp(`${path.basename(second.file)}\\s+\\d+ kB`));
});

test('r restore-tests the selected backup and shows the result', async () => {
	app.press('r');
	const dialog = await app.waitForFrame(/Restore-test t_\S+\.dump\?/);
	assert.match(dialog, /restores into a new scratch database intowork_restore_test_…/);
	app.press('y');
	await app.waitForFrame(/restore test passed for .*: 16 tables and [\d,]+ rows match the snapshot exactly/, 'restore test passed', 30_000);
	await app.waitForFrame(/verified\s+passed \d+(\.\d)?m?s ago/);
	assert.equal(readCatalog(key).filter(r => r.restoreTest?.passed).length, 1);
});

test('Enter shows the selected backup in detail, Esc goes back', async () => {
	app.press('\r');
	const frame = await app.waitForFrame(/Rows counted in the backup's snapshot:/);
	assert.match(frame, /sha256 [0-9a-f]{64}\nchecksum verified · started/);
	assert.match(frame, /Restore test passed/);
	assert.match(frame, /\d+ public\.job_applications/);
	app.press('\u001B');
	await app.waitForFrame(/File\s+Size\s+Started/);
});

test('read-only: b and r are not bound and not offered', async () => {
	app.store.setState({readOnly: true});
	// the footer's hints for this screen now start with f
	const frame = await app.waitForFrame(/\nf format {2}x cancel {2}│/);
	assert.doesNotMatch(frame.split('\n').at(-1)!, /b backup|r restore test/);
	app.store.setState({readOnly: false});
	await app.waitForFrame(/b backup/);
});

test('80 columns: the list drops the least important columns instead of wrapping', async () => {
	app.store.setState({size: {columns: 80, rows: 24}});
	const frame = await app.waitForFrame(/\n {2}File\s+Size Checksum\s+Restore test\n/);
	assert.match(frame, /\n[› ] t_\S+\s+\d+ kB (recorded|verified)\s+(never|passed \S+ ago)\n/);
	for (const line of frame.split('\n')) assert.ok(line.length <= 80, line);
	app.store.setState({size: {columns: 120, rows: 40}});
});
