import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import {stopLeftoverPostmaster} from '../source/demo/pg-server.js';
import {migrationRevision} from '../source/intowork.js';
import {openTerminal, type Terminal} from '../scripts/terminal.js';
import {accepting, waitFor} from './helpers/db.js';
import {confirm, demoPlace, escape, press, see, sleep} from './helpers/operator.js';

// The operator's incident path on a fresh demo at its real size (scale 1: 200,000 jobs, 1,000,000
// applications) under its live workload, in a real terminal, key by key: `npm run test:walkthrough`.
// Not part of `npm test` (it seeds and migrates the full demo); `.ci/run` runs it after `npm test`.

const {base, env, port, dsn} = await demoPlace('walkthrough');
const sleepQuery = 'SELECT pg_sleep(3600)';

// Deadlines sized to the work at scale 1 on a busy 2-core machine.
const minutes = (n: number) => n * 60_000;
/** initdb, the seed (about 9 s idle), the workload's first sessions */
const startMs = minutes(8);
/** the checklist's first pass: EXPLAIN plans and p95 timings on the full tables */
const checklistMs = minutes(4);
/** counting the duplicates the unique constraints refuse, over 1,000,000 applications */
const duplicatesMs = minutes(3);
/** 14 concurrent index builds and 3 constraints on the full tables, with the workload writing */
const migrationMs = minutes(15);
const backupMs = minutes(8);
const restoreTestMs = minutes(12);

let term: Terminal | undefined;
const clients: pg.Client[] = [];
after(async () => {
	for (const client of clients) await client.end().catch(() => undefined);
	term?.kill();
	// a console that did not get to quit may have left its server running
	await stopLeftoverPostmaster(path.join(env.INTOWORK_DB_CACHE, 'demo-pg15', 'data'), 30_000);
	fs.rmSync(base, {recursive: true, force: true});
});

async function connect(): Promise<pg.Client> {
	// parameters, not literals: its own queries name no workload session, so no filter or tag finds it
	const client = new pg.Client({connectionString: dsn, application_name: 'walkthrough-check'});
	client.on('error', () => undefined);
	await client.connect();
	clients.push(client);
	return client;
}

const score = (screen: string) => Number(/Score (\d+)\/100/.exec(screen)![1]);

/**
 * On Connections: H tags every hanging session, then `key` (c or k) acts on them after the dialog.
 * The console's own sessions (the migration's build among them) must not be among the tagged.
 * Returns the dialog the operator confirmed, or undefined when nothing was hanging yet.
 */
async function endHanging(t: Terminal, key: 'c' | 'k', own: number[]): Promise<string | undefined> {
	await press(t, '2', [/\d+ sessions: \d+ active/, /sessions \(v\)/]);
	const tagged = await press(t, 'H', [/Tagged \d+ hanging sessions?(?: \(of those the filter shows\))?: c cancels, k terminates\.|No hanging session/]);
	if (/No hanging session/.test(tagged)) return undefined;
	const verb = key === 'c' ? 'Cancel' : 'Terminate';
	const dialog = await press(t, key, [new RegExp(`${verb} \\d+ sessions?\\?`)]);
	for (const pid of own) assert.doesNotMatch(dialog, new RegExp(`pid ${pid} `), `H tagged the console's own session ${pid}\n${dialog}`);
	assert.doesNotMatch(dialog, /\bintowork-db\//, `H tagged one of the console's own sessions\n${dialog}`);
	await confirm(t, dialog);
	await see(t, [new RegExp(`${verb} at \\d\\d:\\d\\d:\\d\\d: `)]);
	// back to the plain session list: the results, then the tags
	for (let i = 0; i < 3 && /Cancel at|Terminate at|· \d+ tagged/.test(t.capture()); i++) {
		t.send('Escape');
		await sleep(500);
	}
	await see(t, [/sessions \(v\) · sort/], undefined, [/Cancel at|Terminate at|· \d+ tagged/]);
	return dialog;
}

test('scale 1: hanging sessions cancelled, duplicates archived, the migration applied under load, a backup restore-tested, the checklist rising', {timeout: minutes(55)}, async () => {
	term = openTerminal(['--demo', '--demo-port', String(port)], {columns: 200, rows: 50, env});
	const t = term;
	await see(t, [/● live/, /Cache hit ratio/], startMs);
	const db = await connect();
	const counts = await db.query<{n: number}>('SELECT count(*)::int AS n FROM job_applications');
	assert.ok(counts.rows[0]!.n >= 1_000_000, `the demo at its real size: ${counts.rows[0]!.n} applications`);

	// The checklist before: the migration, the backup and its restore test fail.
	let screen = await press(t, '8', [/Score \d+\/100/, /\b1 Migration h8c2d6e5f4g3 applied\s+FAIL/, /\b5 Backup deployed and tested\s+FAIL/, /\b6 Restore tested \(data verified\)\s+FAIL/], checklistMs);
	const before = score(screen);

	// Connections: the hanging export (active past 30 s) tagged with H, and cancelled.
	const exportPid = await waitFor(
		async () => (await db.query<{pid: number}>("SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query = $1 AND now() - query_start > interval '31 seconds'", [sleepQuery])).rows[0]?.pid,
		{timeout: minutes(2), interval: 500, message: 'the demo export running pg_sleep for over 30 s'},
	);
	await press(t, '2', [/\d+ sessions: \d+ active/, /sessions \(v\)/]);
	await see(t, [new RegExp(`[* ]!\\s*${exportPid} .*intowork-export`)]);
	const cancelDialog = await endHanging(t, 'c', []);
	assert.ok(cancelDialog, 'H found the hanging export');
	assert.match(cancelDialog, new RegExp(`pid ${exportPid} .*intowork-export`), 'the export was among the tagged');
	await waitFor(async () => (await db.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query = $2", [exportPid, sleepQuery])).rowCount === 0, {
		timeout: 20_000,
		message: `pid ${exportPid} no longer running pg_sleep`,
	});

	// Migration: the duplicates counted, archived with d.
	screen = await press(t, '6', [new RegExp(`${migrationRevision} \\(built-in plan, 17 objects\\)`), /✗ Duplicates\s+\d+ duplicate rows stop 3 unique constraints/], duplicatesMs);
	screen = await press(t, 'd', [/Archive (\d+) duplicate rows\?/]);
	const archived = Number(/Archive (\d+) duplicate rows\?/.exec(screen)![1]);
	assert.ok(archived > 0);
	await confirm(t, screen);
	await see(t, [/archived \d+ job_applications, \d+ accounts, \d+ verification_tokens into/, /✓ Duplicates\s+none for the unique constraints still to add/], duplicatesMs);
	const left = await db.query<{n: number}>('SELECT count(*)::int AS n FROM (SELECT 1 FROM job_applications GROUP BY job_id, candidate_id HAVING count(*) > 1) d');
	assert.equal(left.rows[0]!.n, 0, 'no duplicate applications left');

	// m with the workload running (no backup yet: the operator types "no backup").
	screen = await press(t, 'm', [new RegExp(`Apply ${migrationRevision} WITHOUT a recent backup\\?`), /Type no backup to /]);
	await confirm(t, screen);
	await see(t, [/Apply running/], 60_000);
	// Whenever a build waits on the workload's old transactions, the operator ends them as the screen says:
	// Connections, H, k; the console's own build session is never among them.
	const deadline = Date.now() + migrationMs;
	for (;;) {
		screen = t.capture();
		if (new RegExp(`✓ applied ${migrationRevision} in \\S+: `).test(screen)) break;
		if (/✗ (failed|cancelled|interrupted)|^\[exit \d+\]$/m.test(screen)) assert.fail(`the apply did not finish\n${screen}`);
		if (Date.now() > deadline) assert.fail(`waited ${migrationMs / 60_000} min for the apply to finish\n--- screen ---\n${screen}`);
		const build = /build pid (\d+)/.exec(screen);
		if (build && /waiting for pid \d+ /.test(screen)) {
			const ended = await endHanging(t, 'k', [Number(build[1])]);
			await press(t, '6', [/Apply running|✓ applied/]);
			// nothing hanging yet: the waited-for transaction is younger than the threshold
			if (!ended) await sleep(5000);
			continue;
		}
		await sleep(1000);
	}
	await see(t, [/17\/17 valid · APPLIED/]);
	const status = await migrationStatus(db, builtinPlan);
	assert.equal(status.alembicVersion, migrationRevision);
	assert.deepEqual(
		status.objects.filter(o => o.state !== 'valid').map(o => `${o.name}: ${o.state}`),
		[],
		'every object of the plan valid',
	);
	assert.equal(status.objects.length, 17);
	const version = await db.query<{version_num: string}>('SELECT version_num FROM alembic_version');
	assert.deepEqual(version.rows, [{version_num: migrationRevision}]);
	const invalid = await db.query('SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid');
	assert.deepEqual(invalid.rows, [], 'no INVALID index left');

	// Backups: b, then r on it.
	screen = await press(t, '7', [/Backups in \/\S+/, /pg_dump 15\.\d+/]);
	screen = await press(t, 'b', [/Back up intowork now\?/]);
	await confirm(t, screen);
	screen = await see(t, [/backup ok: (\S+) · /], backupMs);
	const file = /backup ok: (\S+) · /.exec(screen)![1]!;
	await see(t, [new RegExp(`${escape(file)} .* recorded +never`)]);
	screen = await press(t, 'r', [new RegExp(`Restore-test ${escape(file)}\\?`)]);
	await confirm(t, screen);
	await see(t, [new RegExp(`restore test passed for ${escape(file)}: \\d+ tables and [\\d,]+ rows match the snapshot exactly`)], restoreTestMs);

	// The checklist again: the migration, the backup and the restore test pass, and the score rises by their weight at least.
	await press(t, '8', [/Score \d+\/100/]);
	t.send('r');
	screen = await see(t, [/\b1 Migration h8c2d6e5f4g3 applied\s+PASS/, /\b5 Backup deployed and tested\s+PASS/, /\b6 Restore tested \(data verified\)\s+PASS/], checklistMs);
	assert.ok(score(screen) >= before + 40, `the score rose from ${before} by the migration (15), the backup (15) and the restore test (10): now ${score(screen)}\n${screen}`);

	await press(t, 'q', [/\[exit 0\]/], 60_000);
	assert.equal(await accepting(port), false, 'quitting stopped the demo server');
});
