import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {stopLeftoverPostmaster} from '../source/demo/pg-server.js';
import {openTerminal, type Terminal} from '../scripts/terminal.js';
import {accepting, waitFor} from './helpers/db.js';
import {demoPlace} from './helpers/operator.js';

// The console killed the way an SSH drop kills it: its terminal goes away (tmux kill-session, SIGHUP)
// while a migration build, a backup and a load test run. Afterwards nothing may be left behind.

const {base, env, port, dsn} = await demoPlace('jobs-terminal');
const demoArgs = ['--demo', '--demo-scale', '0.02', '--demo-port', String(port)];
const dataDir = path.join(env.INTOWORK_DB_CACHE, 'demo-pg15', 'data');
const startMs = 90_000;
const screenMs = 30_000;

const terms: Terminal[] = [];
const clients: pg.Client[] = [];
after(async () => {
	for (const c of clients) await c.end().catch(() => undefined);
	for (const t of terms) t.kill();
	await stopLeftoverPostmaster(dataDir, 20_000);
	fs.rmSync(base, {recursive: true, force: true});
});

function open(args: string[]): Terminal {
	const term = openTerminal(args, {columns: 200, rows: 50, env});
	terms.push(term);
	return term;
}

async function connect(): Promise<pg.Client> {
	const client = new pg.Client({connectionString: dsn, application_name: 'jobs-terminal-test'});
	client.on('error', () => undefined);
	await client.connect();
	clients.push(client);
	return client;
}

/** Waits for a settled screen showing every pattern. */
async function see(term: Terminal, patterns: RegExp[], timeoutMs = screenMs): Promise<string> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const screen = term.capture();
		const missing = patterns.filter(p => !p.test(screen));
		if (missing.length === 0) {
			await new Promise(resolve => setTimeout(resolve, 50));
			if (term.capture() === screen) return screen;
			continue;
		}
		if (Date.now() > deadline) throw new Error(`the terminal never showed ${missing.join(', ')}\n--- screen ---\n${screen}`);
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

async function press(term: Terminal, key: string, patterns: RegExp[], timeoutMs = screenMs): Promise<string> {
	term.send(key);
	return see(term, patterns, timeoutMs);
}

/** Answers the open dialog: y, or what it asks to be typed. */
async function confirm(term: Terminal, screen: string): Promise<void> {
	const typed = /Type (.+?) to [^,]*, Esc to cancel: /.exec(screen);
	if (!typed) return void term.send('y');
	term.type(typed[1]!);
	await see(term, [new RegExp(`Esc to cancel: ${typed[1]!}`)]);
	term.send('Enter');
}

function filesUnder(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return fs.readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter(f => fs.statSync(path.join(dir, f)).isFile());
}

test('SIGHUP during a build, a backup and a load test: no partial file, no INVALID index unreported, no postmaster; the demo starts again on the same port', {timeout: 400_000}, async () => {
	const term = open(demoArgs);
	await see(term, [/● live/, /Cache hit ratio/], startMs);
	const db = await connect();

	// The migration: duplicates archived, then the apply, which waits for the demo's hanging export.
	let screen = await press(term, '6', [/✗ Duplicates\s+\d+ duplicate rows/], 60_000);
	screen = await press(term, 'd', [/Archive \d+ duplicate rows\?/]);
	await confirm(term, screen);
	await see(term, [/✓ Duplicates\s+none for the unique constraints still to add/], 60_000);
	// A snapshot every concurrent build waits for in its last phase (the demo's export may not be running yet).
	const snapshot = await connect();
	await snapshot.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
	await snapshot.query('SELECT 1');
	screen = await press(term, 'm', [/Type no backup to apply without a backup/]);
	await confirm(term, screen);
	await see(term, [/▸ migration apply h8c2d6e5f4g3: (build|drop INVALID, rebuild) \S+ \((waiting|building)/], 60_000);

	// The load test (it reads the app's tables, not experiences).
	screen = await press(term, '8', [/Score \d+\/100/], 60_000);
	screen = await press(term, 'L', [/Type 100 to start it/], 60_000);
	await confirm(term, screen);
	await see(term, [/▸ load test, 100 sessions/], 60_000);
	const observer = await connect();
	await waitFor(async () => (await observer.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'intowork-db/loadtest'")).rows[0].n > 0, {timeout: 30_000, message: 'load-test sessions connected'});

	// A backup held at its lock on experiences (which the load test does not read), so it is still
	// writing its partial file when the terminal goes.
	const locker = await connect();
	await locker.query('BEGIN');
	await locker.query('LOCK TABLE experiences IN ACCESS EXCLUSIVE MODE');
	screen = await press(term, '7', [/Backups in (\S+)/]);
	const backupDir = /Backups in (\S+)/.exec(screen)![1]!;
	screen = await press(term, 'b', [/Back up intowork now\?/]);
	await confirm(term, screen);
	await waitFor(() => filesUnder(backupDir).some(f => f.endsWith('.partial')), {timeout: 20_000, message: 'the partial backup file exists'});
	await see(term, [/▸ migration apply/, /▸ load test, 100 sessions/, /▸ backup of intowork/]);

	// The SSH connection drops.
	term.kill();
	await db.end().catch(() => undefined);
	await locker.end().catch(() => undefined);
	await observer.end().catch(() => undefined);
	await snapshot.end().catch(() => undefined);
	await waitFor(async () => !fs.existsSync(path.join(dataDir, 'postmaster.pid')) && !(await accepting(port)), {timeout: 120_000, interval: 500, message: 'the console stopped its postmaster'});

	assert.deepEqual(filesUnder(backupDir), [], 'no partial backup file');

	// The next start of the demo on the same port; what the database holds.
	const again = open(demoArgs);
	await see(again, [/● live/, /Cache hit ratio/], startMs);
	const check = await connect();
	const invalid = (await check.query<{name: string}>('SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid')).rows.map(r => r.name);
	const audit = fs.readFileSync(filesUnder(env.INTOWORK_DB_STATE).map(f => path.join(env.INTOWORK_DB_STATE, f)).find(f => f.endsWith('audit.jsonl'))!, 'utf8');
	for (const name of invalid) assert.match(audit, new RegExp(`${name}[^\\n]*left INVALID`), `${name} is INVALID and the audit log says so`);
	const apply = audit.split('\n').filter(l => l.includes('"migrate.apply"')).at(-1) ?? '';
	assert.match(apply, /"result":"cancelled/, 'the apply was cancelled and recorded');
	assert.match(audit, /"action":"job.backup","result":"cancelled/);
	assert.match(audit, /"action":"job.load-test","result":"cancelled/);
	const scratch = await check.query("SELECT datname FROM pg_database WHERE datname LIKE 'intowork_restore_test%'");
	assert.deepEqual(scratch.rows, []);
	await check.end();
	await press(again, 'q', [/\[exit 0\]/], 60_000);
	assert.equal(await accepting(port), false);
});
