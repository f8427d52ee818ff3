import assert from 'node:assert/strict';
import path from 'node:path';
import {test, type TestContext} from 'node:test';
import pg from 'pg';
import {runBackup} from '../source/actions/backup/backup.js';
import type {BackupRecord} from '../source/actions/backup/catalog.js';
import {runRestore} from '../source/actions/backup/restore.js';
import {helpLines} from '../source/components/help.js';
import {resolveTarget} from '../source/db/dsn.js';
import type {JobView} from '../source/jobs/registry.js';
import {dropDatabases, urlFor, waitFor} from './helpers/db.js';
import {own} from './helpers/own.js';
import {jobMs, keys, type RenderedApp} from './helpers/render.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A dialog's text as one line: its lines wrap inside the border. */
const flat = (frame: string) => frame.replace(/\s*│\s*\n\s*│\s*/g, ' ').replace(/[ \t]+/g, ' ');

const fieldLabel = 'Restore into a new database (Enter, Esc to cancel): ';

/** A database of the test's own with one backup of it taken, and a console on its Backups screen. */
async function setup(t: TestContext, options: {filler?: number} = {}) {
	const owned = await own(t, 'backup-restore');
	const {db} = owned;
	// a table big enough that the restore is still running when the test acts on it
	if (options.filler) await db.client.query(`CREATE TABLE public.filler AS SELECT g, md5(g::text) AS h FROM generate_series(1, ${options.filler}) g`);
	const target = resolveTarget({dsn: db.url, env: {}});
	const record = await runBackup({target});
	const app = await owned.app({screen: 'backups', size: {columns: 160, rows: 50}});
	await app.waitForFrame(/recorded\s+never/, 'the backup listed');
	return {...owned, target, record, app};
}

/** R opens the name field with its suggestion; returns the suggested name. */
async function openNameField(app: RenderedApp, source: string): Promise<string> {
	app.press('R');
	const frame = await app.waitForFrame(f => f.includes(fieldLabel), 'the name field');
	const m = new RegExp(`${escape(fieldLabel)}(\\S+)`).exec(frame);
	assert.ok(m, frame);
	assert.match(m[1]!, new RegExp(`^${source}_restored_\\d{8}_\\d{4}$`), 'the suggestion: <source>_restored_<yyyymmdd_hhmm>');
	return m[1]!;
}

/** One key per write, as a user types, waiting for the field to show all of it. */
async function type(app: RenderedApp, text: string, shown: (typed: string) => string) {
	for (const ch of text) app.press(ch);
	await app.waitForFrame(f => f.includes(shown(text)), `"${text}" typed`);
}

async function confirmByName(app: RenderedApp, record: BackupRecord, into: string) {
	app.press(keys.enter);
	const dialog = flat(await app.waitForFrame(f => flat(f).includes(`Restore ${path.basename(record.file)} into the new database ${into}?`), 'the restore dialog'));
	assert.ok(dialog.includes(`${record.database} (the source) is not touched and nothing is replaced`), dialog);
	assert.ok(dialog.includes('Cancelling (x, or quitting) drops the partially restored database.'), dialog);
	assert.ok(dialog.includes(`Type ${into} to restore, Esc to cancel:`), dialog);
	for (const ch of into) app.press(ch);
	await app.waitForFrame(f => flat(f).includes(`Esc to cancel: ${into}`), 'the name typed');
	app.press(keys.enter);
}

async function rowCounts(url: string, tables: string[]): Promise<Record<string, number>> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		const counts: Record<string, number> = {};
		for (const table of tables) {
			const [schema, name] = table.split('.');
			const r = await client.query<{n: string}>(`SELECT count(*) AS n FROM "${schema}"."${name}"`);
			counts[table] = Number(r.rows[0]!.n);
		}
		return counts;
	} finally {
		await client.end();
	}
}

test("R restores the selected backup into a new database by keys, as a registered job: the new database holds the snapshot's row counts", async t => {
	const {db, defer, record, app} = await setup(t);
	const into = await openNameField(app, db.name);
	defer(() => dropDatabases(db.info, [into]));
	const seen: JobView[] = [];
	app.jobs.store.subscribe(s => {
		for (const j of s.jobs) if (j.kind === 'restore' && seen.at(-1) !== j) seen.push(j);
	});
	await confirmByName(app, record, into);
	await app.waitForFrame(
		new RegExp(`restored: ${into} holds 16 tables and [\\d,]+ rows, matching the backup's snapshot`),
		'the restore done',
		jobMs.restoreTest,
	);
	const done = seen.at(-1)!;
	assert.equal(done.result?.outcome, 'ok', done.result?.text);
	assert.equal(done.title, `restore of ${path.basename(record.file)} into ${into}`);
	assert.ok(seen.some(j => j.pids.length > 0), 'its sessions were registered while it ran');
	assert.ok(seen.some(j => /restoring into intowork_restore_\S+: /.test(j.progress?.text ?? '')), 'its progress was on the strip');
	const tables = Object.keys(record.rowCounts);
	assert.deepEqual(await rowCounts(urlFor(db.info, into), tables), record.rowCounts, "the snapshot's counts, table by table");
	assert.equal((await db.client.query('SELECT 1 FROM pg_database WHERE datname LIKE $1', [`${into}%`])).rowCount, 1, 'one new database');
});

test('the source database is refused, by the console before any dialog and by the restore action itself; so is an existing database', async t => {
	const {db, defer, target, record, app} = await setup(t);
	const suggested = await openNameField(app, db.name);
	for (let i = 0; i < suggested.length; i++) app.press(keys.backspace);
	await app.waitForFrame(f => f.includes(fieldLabel) && !f.includes(suggested), 'the field emptied');
	await type(app, db.name, typed => `${fieldLabel}${typed}`);
	app.press(keys.enter);
	const frame = await app.waitForFrame(new RegExp(`refusing to restore into ${db.name}: it is the source database of this backup`), 'the refusal');
	assert.doesNotMatch(frame, /Type .* to restore/, 'no confirmation asked');
	assert.equal(app.jobs.store.getState().jobs.filter(j => j.kind === 'restore').length, 0, 'no restore started');

	// the action the console runs refuses it too, from the file's own header, whatever the caller checked
	await assert.rejects(runRestore({target, file: record.file, into: db.name, newOnly: true}), new RegExp(`refusing to restore into ${db.name}: it is the source database of this backup`));
	const existing = `${db.name}_exists`;
	await db.client.query(`CREATE DATABASE ${existing}`);
	defer(() => dropDatabases(db.info, [existing]));
	await assert.rejects(runRestore({target, file: record.file, into: existing, newOnly: true}), new RegExp(`refusing to restore into ${existing}: a database of that name exists`));
	const tables = new pg.Client({connectionString: urlFor(db.info, existing)});
	await tables.connect();
	const r = await tables.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
	await tables.end();
	assert.equal(r.rowCount, 0, 'the existing database was not written to');
});

test('read-only: R is not bound (pressing it does nothing) and help does not list it', async t => {
	const {app} = await setup(t);
	await app.waitForFrame(/R restore/, 'R in the footer');
	app.store.setState({readOnly: true});
	const footer = await app.waitForFrame(/\nf format {2}x cancel {2}│/, 'the read-only footer');
	assert.doesNotMatch(footer.split('\n').at(-1)!, /R restore/);
	app.press('R');
	// the next key is answered: R, written before it, was answered (by nothing) too
	app.press('?');
	await app.waitForFrame(/Target: postgres/, 'help');
	app.press('G');
	const end = await app.waitForFrame(/Read-only mode: \d+ commands that change the server or the disk are not bound/, 'the end of help');
	assert.doesNotMatch(end, /restore the selected backup into a new database/);
	app.press(keys.escape);
	const after = await app.waitForFrame(/File\s+Size\s+Started/, 'the list again');
	assert.ok(!after.includes(fieldLabel), 'no name field');
	assert.equal(app.store.getState().ui.backups?.naming, undefined);
	assert.equal(app.store.getState().dialog, undefined);
	const description = 'restore the selected backup into a new database you name';
	assert.ok(!helpLines(true).some(l => l.includes(description)), 'not in the read-only help');
	assert.ok(helpLines(false).some(l => l.includes(description)), 'in the help otherwise');
});

test('quit during a restore says what cancelling leaves behind; cancelling drops the partially restored database', async t => {
	const {db, defer, record, app} = await setup(t, {filler: 600_000});
	const into = await openNameField(app, db.name);
	defer(() => dropDatabases(db.info, [into]));
	await confirmByName(app, record, into);
	const staging = await waitFor(
		() => {
			const p = app.store.getState().ui.backups?.job?.progress;
			return p && 'database' in p && (p.phase === 'restoring' || p.phase === 'counting') ? p.database : undefined;
		},
		{timeout: jobMs.restoreTest, message: 'the restore writing into its new database'},
	);
	defer(() => dropDatabases(db.info, [staging]));
	assert.match(staging, /^intowork_restore_/);
	app.press('q');
	const dialog = flat(await app.waitForFrame(/Jobs are running/, 'the quit question'));
	assert.ok(dialog.includes(`▸ restore of ${path.basename(record.file)} into ${into}, running`), dialog);
	assert.ok(dialog.includes('cancelling it: pg_restore stops and the partially restored database is dropped'), dialog);
	assert.ok(dialog.includes(`${into} is not created`), dialog);
	app.press('y');
	await waitFor(() => app.quitCalled(), {timeout: 60_000, message: 'the console quit after cancelling'});
	const job = app.jobs.store.getState().jobs.find(j => j.kind === 'restore')!;
	assert.equal(job.result?.outcome, 'cancelled', job.result?.text);
	assert.equal(job.result?.text, `restore cancelled; ${into} was not created, the partially restored database ${staging} was dropped`);
	const left = await db.client.query('SELECT datname FROM pg_database WHERE datname = ANY($1::text[])', [[into, staging]]);
	assert.deepEqual(left.rows, [], 'no partial database, and no database of the name');
});
