import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {stopLeftoverPostmaster} from '../source/demo/pg-server.js';
import {screenIds} from '../source/keymap.js';
import {openTerminal, type Terminal} from '../scripts/terminal.js';
import {accepting, waitFor} from './helpers/db.js';
import {confirm, demoPlace, escape, filter, press, screenMs, see, selectedRow, sleep} from './helpers/operator.js';
import {assertFits, indexSortMark, sortMarks, verdicts} from './helpers/screen-fit.js';

// The built CLI in a real terminal (tmux) on the demo, driven by keys as an operator would,
// checked against what the screen shows and what the database holds.

type Place = Awaited<ReturnType<typeof demoPlace>>;
/** Each test's own demo (cache, state dir, port), seeded from nothing: no test sees another's backups, terminations or applied plan. */
const places: Place[] = [];
async function ownDemo(name: string): Promise<Place & {args: string[]}> {
	const place = await demoPlace(name);
	places.push(place);
	return {...place, args: ['--demo', '--demo-scale', '0.02', '--demo-port', String(place.port)]};
}
const revision = 'h8c2d6e5f4g3';
/** The demo's hanging export. */
const sleepQuery = 'SELECT pg_sleep(3600)';

// Generous: two cores, and the suite runs other files alongside.
const startMs = 60_000;
const jobMs = 60_000;
/** Whole tests: the sum of their steps' deadlines, which are what fails first and say what they waited for. */
const walkMs = 8 * 60_000;
const screensMs = 4 * 60_000;

const clients = new Set<pg.Client>();

/** The CLI in tmux on a demo for the length of `body`; the session is always killed, and the demo server with it. */
async function inTerminal({args, env}: {args: string[]; env: Place['env']}, size: {columns: number; rows: number}, body: (term: Terminal) => Promise<void>): Promise<void> {
	const term = openTerminal(args, {...size, env});
	try {
		await body(term);
	} finally {
		for (const client of clients) await client.end().catch(() => undefined);
		clients.clear();
		term.kill();
		// a console killed mid-test may not have stopped its server
		await stopLeftoverPostmaster(path.join(env.INTOWORK_DB_CACHE, 'demo-pg15', 'data'), 20_000);
	}
}

after(() => {
	for (const {base} of places) fs.rmSync(base, {recursive: true, force: true});
});

async function connect(dsn: string): Promise<pg.Client> {
	// Its own queries name no workload session and no pg_sleep (parameters instead), so the console's filters do not find it.
	const client = new pg.Client({connectionString: dsn, application_name: 'e2e-test'});
	client.on('error', () => undefined);
	await client.connect();
	clients.add(client);
	return client;
}

async function close(client: pg.Client): Promise<void> {
	clients.delete(client);
	await client.end();
}


// Each screen by its number key, and text only that screen shows once it has data.
const signatures: Record<string, RegExp[]> = {
	'1': [/Cache hit ratio\s+\S+ [\d.]+% since reset/, /Longest running\s+/, /pg_stat_statements\s+collecting/],
	'2': [/\d+ sessions: \d+ active/, /sessions \(v\)/],
	'3': [/This interval \([^)]*\) · \d+ of \d+ statements ran/],
	'4': [/Database\s+[\d.]+%/, / {2}history\b/],
	'5': [/\d+ tables, [\d.]+ [kMG]?B · by size \(s\) · i: indexes/, /job_applications/],
	'6': [new RegExp(`${revision} \\(built-in plan, 17 objects\\)`), /Pre-flight for an apply: /],
	'7': [/Backups in \/\S+/, /pg_dump 15\.\d+/],
	// the verdicts are asserted where the test knows them: FAIL before the apply, PASS after
	'8': [/Score \d+\/100/, /^ +# item +verdict /m],
	'9': [/\d+ actions? on this database, newest first/],
};
/**
 * The console starts on the overview, so it comes last: a key is sent only once the previous one has
 * visibly been read. Keys that reach the console in one read arrive as one string, which is no command.
 */
const visitOrder = [1, 2, 3, 4, 5, 6, 7, 8, 0];
/** The help, opened at its top. */
const helpTop = [/Help \(↑\/↓ scroll, lines 1-\d+ of \d+\)/, /Everywhere/, /quit and restore the terminal/];

/**
 * Every screen by its number, each checked where it stands (frame, footer, no cut number, verdicts)
 * with its sort column marked; then the Tables screen's index list, its own sort marked. Ends on the overview.
 */
async function visitEvery(term: Terminal, size: {columns: number; rows: number}, visits: Record<string, RegExp[]> = {}): Promise<void> {
	for (const i of visitOrder) {
		const key = String(i + 1);
		const id = screenIds[i]!;
		const screen = await press(term, key, [...signatures[key]!, ...(verdicts[id] ?? []), ...(sortMarks[id] ?? []), ...(visits[key] ?? [])]);
		assertFits(screen, {...size, screen: id, scope: id});
	}
	await press(term, '5', signatures['5']!);
	const indexes = await press(term, 'i', [/^\d+ indexes · \d+ unused/m, indexSortMark]);
	assertFits(indexes, {...size, screen: 'tables', scope: 'tables'});
	await press(term, 'i', signatures['5']!);
	await press(term, '1', signatures['1']!);
}

test('200x50: every screen, a hanging query killed, backup, restore test, migration and the checklist', {timeout: walkMs}, async () => {
	const demo = await ownDemo('e2e-200x50');
	await inTerminal(demo, {columns: 200, rows: 50}, async term => {
		await see(term, [/● live/, /Cache hit ratio/], startMs);
		const db = await connect(demo.dsn);

		// The demo's workload is up: the hanging export, the idle-in-transaction worker, the lock-chain blocker.
		const pidOf = async (application: string, state: string, query?: string) =>
			waitFor(
				async () => {
					const r = await db.query<{pid: number}>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = $2 AND query = coalesce($3, query)', [application, state, query ?? null]);
					return r.rows[0]?.pid;
				},
				// the demo's workload starts after the server accepts: as slow as the start on a busy machine
				{timeout: startMs, interval: 200, message: `no ${application} session`},
			);
		const exportPid = await pidOf('intowork-export', 'active', sleepQuery);
		const workerPid = await pidOf('intowork-worker', 'idle in transaction');
		const adminPid = await pidOf('intowork-admin', 'idle in transaction');

		// Every screen by its number. On the overview the longest running query is the export or a lock waiter,
		// which start together (once a report that may be running has finished).
		const visits: Record<string, RegExp[]> = {
			'1': [/Migration\s+at g7b1c5d4e3f2, h8c2d6e5f4g3 not applied/, /Longest running\s+\S+ pid \d+ intowork-(export: SELECT pg_sleep\(3600\)|api: UPDATE jobs SET views_count)/],
			'2': [new RegExp(`${exportPid} .*intowork-export .*active`), new RegExp(`${workerPid} .*intowork-worker .*idle in tx`), new RegExp(`${adminPid} .*intowork-admin .*idle in tx`)],
			'6': [/Pre-flight for an apply: blocked/, /✗ Duplicates\s+\d+ duplicate rows stop 3 unique constraints/, /0\/17 valid · NOT APPLIED/, /✗ Backup\s+no backup of this database in the catalog/],
			'7': [/No backups yet: b takes one\./],
			// the machine's half of the evidence (backups) arrives after the server's
			'8': [/\b1 Migration h8c2d6e5f4g3 applied\s+FAIL/, /\b5 Backup deployed and tested\s+FAIL/],
		};
		await visitEvery(term, {columns: 200, rows: 50}, visits);
		let screen = await press(term, '?', helpTop);
		assertFits(screen, {columns: 200, rows: 50, screen: 'overview', scope: 'help'});
		term.send('Escape');
		await see(term, signatures['1']!, screenMs, [/Help \(/]);

		// A backup, and the proof that it restores.
		screen = await press(term, '7', signatures['7']!);
		const backupDir = /Backups in (\S+)/.exec(screen)![1]!;
		screen = await press(term, 'b', [/Back up intowork now\?/, /y\/Enter back up · n\/Esc cancel/]);
		await confirm(term, screen);
		screen = await see(term, [/backup ok: (\S+) · /], jobMs);
		const file = /backup ok: (\S+) · /.exec(screen)![1]!;
		assert.ok(fs.statSync(path.join(backupDir, file)).size > 0, `${file} is on disk in ${backupDir}`);
		await see(term, [new RegExp(`${escape(file)} .* recorded +never`)]);

		screen = await press(term, 'r', [new RegExp(`Restore-test ${escape(file)}\\?`)]);
		await confirm(term, screen);
		await see(term, [new RegExp(`restore test passed for ${escape(file)}: \\d+ tables and [\\d,]+ rows match the snapshot exactly`), new RegExp(`${escape(file)} .* verified +passed [\\dms.]+ ago`)], jobMs);
		const scratch = await db.query("SELECT datname FROM pg_database WHERE datname LIKE 'intowork_restore_test%'");
		assert.deepEqual(scratch.rows, [], 'the scratch database is dropped');

		// The migration's pre-flight: the backup counts now; the duplicates block until archived.
		screen = await press(term, '6', [/✓ Backup\s+/, /✗ Duplicates\s+\d+ duplicate rows/]);
		screen = await press(term, 'd', [/Archive (\d+) duplicate rows\?/]);
		const archived = Number(/Archive (\d+) duplicate rows\?/.exec(screen)![1]);
		assert.ok(archived > 0);
		await confirm(term, screen);
		await see(term, [/archived \d+ job_applications, \d+ accounts, \d+ verification_tokens into/, /✓ Duplicates\s+none for the unique constraints still to add/], jobMs);
		const duplicates = await db.query<{n: number}>('SELECT count(*)::int AS n FROM (SELECT 1 FROM job_applications GROUP BY job_id, candidate_id HAVING count(*) > 1) d');
		assert.equal(duplicates.rows[0]!.n, 0, 'no duplicate applications left');
		await see(term, [/! Transactions\s+\d+ open transactions? the concurrent builds will wait for/]);

		// The hanging query: found with the filter, terminated with k.
		await press(term, '2', signatures['2']!);
		screen = await filter(term, 'pg_sleep');
		assert.match(screen, /filter \/pg_sleep\/ 1 of \d+/);
		assert.match(screen, new RegExp(`${selectedRow(exportPid).source}.*intowork-export .*SELECT pg_sleep\\(3600\\)`), 'the export is selected');
		screen = await press(term, 'k', [/Terminate 1 session\?/, new RegExp(`pid ${exportPid}  intowork_app  intowork-export  active`), /pg_terminate_backend/]);
		await confirm(term, screen);
		await see(term, [/Terminate at \d\d:\d\d:\d\d: 1 terminated/, new RegExp(`pid ${exportPid} intowork_app intowork-export: terminated`)]);
		await waitFor(async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [exportPid])).rowCount === 0, {timeout: 10_000, message: 'the export backend is gone'});
		const sleeping = await db.query("SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sleepQuery]);
		assert.deepEqual(sleeping.rows, [], 'nothing runs pg_sleep any more');

		// The long transactions the builds would wait for: the worker and the lock chain's blocker, tagged and terminated.
		term.send('Escape'); // the results
		await see(term, [/sessions \(v\) · filter \/pg_sleep\//], screenMs, [/Terminate at/]);
		term.send('Escape'); // the filter
		await see(term, [/sessions \(v\) · sort/], screenMs, [/filter \//]);
		screen = await filter(term, 'intowork-(worker|admin)');
		assert.match(screen, /filter \/intowork-\(worker\|admin\)\/ 2 of \d+/);
		screen = await press(term, 'Space', [/· 1 tagged/]);
		const first = Number(/›\*[!~@ ]\s*(\d+) /.exec(screen)![1]);
		const second = first === workerPid ? adminPid : workerPid;
		assert.ok([workerPid, adminPid].includes(first), `the tagged session is the worker or the blocker\n${screen}`);
		await press(term, 'Down', [selectedRow(second)]);
		await press(term, 'Space', [/· 2 tagged/, selectedRow(second, true)]);
		screen = await press(term, 'k', [/Terminate 2 sessions\?/, /Type 2 to terminate, Esc to cancel: /, new RegExp(`pid ${workerPid} `), new RegExp(`pid ${adminPid} `)]);
		assert.match(screen, new RegExp(`pid ${adminPid} blocks \\d+ sessions?`), 'the dialog says what ending the blocker frees');
		await confirm(term, screen);
		await see(term, [/Terminate at \d\d:\d\d:\d\d: 2 terminated/, new RegExp(`pid ${workerPid} intowork_app intowork-worker: terminated`), new RegExp(`pid ${adminPid} intowork_app intowork-admin: terminated`)]);
		await waitFor(async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [[workerPid, adminPid]])).rowCount === 0, {timeout: 10_000, message: 'worker and blocker gone'});
		term.send('Escape'); // the results
		await see(term, [/sessions \(v\) · filter/], screenMs, [/Terminate at/]);
		term.send('Escape'); // the filter
		await see(term, [/sessions \(v\) · sort/], screenMs, [/filter \//]);

		// Apply: nothing left for the builds to wait for, and a fresh backup, so a plain confirmation.
		await press(term, '6', [/Transactions\s+(no transaction open|\d+ long transactions?, none the builds wait for)/, /Pre-flight for an apply: clear/]);
		screen = await press(term, 'm', [new RegExp(`Apply migration ${revision}\\?`), /y\/Enter apply · n\/Esc cancel/]);
		assert.doesNotMatch(screen, /WITHOUT a recent backup/);
		await confirm(term, screen);
		screen = await see(term, [new RegExp(`✓ applied ${revision} in \\S+: \\d+ built, \\d+ rebuilt, \\d+ attached`), /Job list before\s+\S.* · p50 /, /Job list after\s+\S.* · p50 /, /17\/17 valid · APPLIED/], 100_000);
		const version = await db.query<{version_num: string}>('SELECT version_num FROM alembic_version');
		assert.deepEqual(version.rows, [{version_num: revision}]);
		const constraints = await db.query("SELECT conname FROM pg_constraint WHERE conname IN ('unique_candidate_job_application', 'unique_user_provider_account', 'unique_verification_identifier_token')");
		assert.equal(constraints.rowCount, 3);
		const invalid = await db.query('SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid');
		assert.deepEqual(invalid.rows, [], 'no INVALID index left');

		// The checklist: the migration, the backup and the restore test pass; the query timeout once the role has one.
		await press(term, '8', signatures['8']!);
		term.send('r');
		screen = await see(term, [/✓ checklist re-check/, /\b1 Migration h8c2d6e5f4g3 applied\s+PASS/, /\b5 Backup deployed and tested\s+PASS/, /\b6 Restore tested \(data verified\)\s+PASS/]);
		assert.match(screen, /\b2 Query timeout configured\s+FAIL/);
		await db.query("ALTER ROLE intowork_app SET statement_timeout = '30s'");
		term.send('r');
		// the job's end, not only its first verdicts: quitting while it runs would ask what to do with it
		screen = await see(term, [/✓ checklist re-check/, /\b2 Query timeout configured\s+PASS/, /\b1 Migration h8c2d6e5f4g3 applied\s+PASS/], jobMs, [/▸ checklist re-check/]);

		// The audit log has the terminations.
		screen = await press(term, '9', [...signatures['9']!, new RegExp(`terminate\\s+terminated\\s+${exportPid}\\b`)]);

		await close(db);
		await press(term, 'q', [/\[exit 0\]/], 30_000);
		assert.equal(await accepting(demo.port), false, 'quitting stopped the demo server');
	});
});

test('80x24: every screen and the help fit the terminal; the sort column, the restore-test warning, help from its top', {timeout: screensMs}, async () => {
	const demo = await ownDemo('e2e-80x24');
	await inTerminal(demo, {columns: 80, rows: 24}, async term => {
		await see(term, [/● live/, /Cache hit ratio/], startMs);
		// the workload's open transactions, which the migration's pre-flight must show, are up
		const db = await connect(demo.dsn);
		await waitFor(async () => (await db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'intowork-worker' AND state = 'idle in transaction'")).rowCount === 1, {timeout: startMs, interval: 200, message: 'no intowork-worker session idle in transaction'});
		await close(db);
		await visitEvery(term, {columns: 80, rows: 24});
		let screen = await press(term, '?', helpTop);
		assertFits(screen, {columns: 80, rows: 24, screen: 'overview', scope: 'help'});
		// the demo's own DSN in full, password included, ready to paste
		assert.ok(screen.includes(`  psql "postgresql://postgres:postgres@127.0.0.1:${demo.port}/intowork"`), `the demo's psql line:\n${screen}`);
		await press(term, 'NPage', [/Help \(↑\/↓ scroll, lines (?!1-)\d+-\d+ of/]);
		term.send('Escape');
		screen = await see(term, signatures['1']!, screenMs, [/Help \(/]);
		assertFits(screen, {columns: 80, rows: 24, screen: 'overview', scope: 'overview'});
		// opened again, the help starts at its top, not where it was left
		await press(term, '?', [/Help \(↑\/↓ scroll, lines 1-\d+ of \d+\)/, /^Target: /m]);
		term.send('Escape');
		await see(term, signatures['1']!, screenMs, [/Help \(/]);

		// Sorted by time in state: the column shows, marked, even at 80 columns.
		await press(term, '2', signatures['2']!);
		await press(term, 's', [/· sort query age ↓/]);
		screen = await press(term, 's', [/· sort time in state ↓/, /^ +pid .* in state↓ /m]);
		assertFits(screen, {columns: 80, rows: 24, screen: 'connections', scope: 'connections'});

		// The restore-test dialog's warning is whole: its lines wrap.
		await press(term, '7', signatures['7']!);
		screen = await press(term, 'b', [/Back up intowork now\?/, /y\/Enter back up · n\/Esc cancel/]);
		await confirm(term, screen);
		await see(term, [/backup ok: \S+ · /], jobMs);
		screen = await press(term, 'r', [/Restore-test \S+\?/, /y\/Enter run the restore test · n\/Esc cancel/]);
		const dialog = screen
			.split('\n')
			.map(l => l.replace(/^\s*│\s?|\s*│\s*$/g, '').trim())
			.join(' ');
		assert.match(dialog, /It needs CREATEDB, and writes the whole database \(and its WAL, which replicas receive\) while it runs\./, `the warning is complete\n${screen}`);
		assertFits(screen, {columns: 80, rows: 24, screen: 'backups', scope: 'dialog'});
		term.send('n');
		await see(term, signatures['7']!, screenMs, [/Restore-test \S+\?/]);
		await press(term, 'q', [/\[exit 0\]/], 30_000);
	});
});

test('80x24 --read-only: k does nothing and the help says the dangerous keys are not bound', {timeout: screensMs}, async () => {
	const demo = await ownDemo('e2e-read-only');
	await inTerminal({...demo, args: [...demo.args, '--read-only']}, {columns: 80, rows: 24}, async term => {
		await see(term, [/● live/, /Cache hit ratio/], startMs);
		const db = await connect(demo.dsn);
		const workerPid = await waitFor(
			async () => (await db.query<{pid: number}>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'", ['intowork-worker'])).rows[0]?.pid,
			{timeout: 30_000, interval: 200, message: 'no worker session'},
		);

		let screen = await press(term, '2', signatures['2']!);
		assert.doesNotMatch(screen, /k kill|c cancel/, 'the footer offers no kill');
		assert.match(screen, /\/ filter/);
		screen = await filter(term, 'intowork-worker');
		assert.match(screen, selectedRow(workerPid), 'the worker is selected');
		assert.match(screen, /· sort transaction age/);
		// k must do nothing: nothing to wait for but a moment, then s shows that the keys after it are read.
		term.send('k');
		await sleep(1000);
		screen = await press(term, 's', [/· sort query age/]);
		assert.doesNotMatch(screen, /Terminate \d+ session|pg_terminate_backend|Esc cancel/);
		assertFits(screen, {columns: 80, rows: 24, screen: 'connections', scope: 'connections', readOnly: true});
		assert.match(screen, selectedRow(workerPid));
		assert.equal((await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [workerPid])).rowCount, 1, 'the worker is still there');

		// Page through the help to its end.
		screen = await press(term, '?', [/Help \(↑\/↓ scroll/]);
		const pages = [screen];
		for (let i = 0; i < 10 && !/Read-only mode:/.test(screen); i++) {
			const range = /Help \(↑\/↓ scroll, lines (\d+-\d+) of/.exec(screen)?.[1];
			term.send('NPage');
			screen = await see(term, [/Help \(↑\/↓ scroll, lines (\d+-\d+) of/, new RegExp(`scroll, lines (?!${range} of)`)]);
			pages.push(screen);
		}
		assert.match(screen, /Read-only mode: \d+ commands that change the server or the disk are not bound\./);
		assert.doesNotMatch(pages.join('\n'), /pg_terminate_backend|\(confirmed\)/, 'no dangerous key is listed');
		term.send('Escape');
		await see(term, [/sessions \(v\)/]);

		await close(db);
		await press(term, 'q', [/\[exit 0\]/], 30_000);
		assert.equal(await accepting(demo.port), false, 'quitting stopped the demo server');
	});
});
