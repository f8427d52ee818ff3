import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {test, type TestContext} from 'node:test';
import {fileURLToPath} from 'node:url';
import pg from 'pg';
import {readCatalog} from '../source/actions/backup/catalog.js';
import {runBackup} from '../source/actions/backup/backup.js';
import {runRestoreTest} from '../source/actions/backup/restore-test.js';
import {targetKey} from '../source/state.js';
import {resolveDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {startApply} from '../source/actions/migration/run.js';
import {readAudit} from '../source/audit.js';
import {scanBackend} from '../source/checklist/backend.js';
import {assemble, collectDb, collectLocal, type ChecklistReport} from '../source/checklist/checklist.js';
import {defaultOptions, itemDef, items, itemTitle, type ChecklistOptions, type ItemId, type ItemResult} from '../source/checklist/items.js';
import {judgeLatency, measureLatency, percentile} from '../source/checklist/latency.js';
import {loadTestConfig, readLoadTest, runLoadTest, saveLoadTest} from '../source/checklist/load-test.js';
import {judgeMonitoring, readMonitoring} from '../source/checklist/monitoring.js';
import {currentSignOff, readHistory, readSignOffs, signOff, withdrawSignOff} from '../source/checklist/store.js';
import {judgeTimeouts, parsePgDuration, readTimeouts} from '../source/checklist/timeout.js';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {appRole, migrationRevision, previousRevision} from '../source/intowork.js';
import {splitProgress} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';
import {own, type Owned} from './helpers/own.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'cli.js');

// A threshold between the small tables (companies 50, employers 100, jobs
// 2,000) and job_applications (10,000 as seeded, about 40,000 with
// moreApplications): the check must tell them apart.
// 40 runs: the p95 is the 38th, so two hiccups of a busy CI machine do not decide it
const options: ChecklistOptions = {...defaultOptions, seqScanRows: 5000, samples: 40};

type Run = {code: number; stdout: string; stderr: string};
type Setup = Owned & {
	target: ReturnType<typeof resolveTarget>;
	key: ReturnType<typeof targetKey>;
	monitor: Monitor;
	auditCtx: {key: ReturnType<typeof targetKey>; role: string; target: string};
	/** the built CLI on this test's database and state dir */
	cli(args: string[]): Promise<Run>;
};

/** Each test's own state: a database copied from the template, a state dir, and the console's monitor connection on it. */
async function setup(t: TestContext): Promise<Setup> {
	const owned = await own(t, 'checklist');
	const target = resolveTarget({dsn: owned.db.url, env: {}});
	const key = targetKey(target);
	const monitor = new Monitor(target);
	await monitor.connect();
	owned.defer(() => monitor.close());
	const cliEnv = {...process.env, DATABASE_URL: owned.db.url, INTOWORK_DB_STATE: owned.stateDir};
	return {
		...owned,
		target,
		key,
		monitor,
		auditCtx: {key, role: 'postgres', target: owned.db.url},
		cli: args =>
			new Promise(resolve => {
				execFile(process.execPath, [cli, ...args], {env: cliEnv, timeout: 60_000}, (error, stdout, stderr) => {
					resolve({code: error ? ((error as {code?: number}).code ?? 1) : 0, stdout, stderr: splitProgress(stderr).stderr});
				});
			}),
	};
}

// The seed gives each candidate 20 applications: at 10,000 rows in all, a
// seq scan is honestly the planner's cheapest way to an employer's
// dashboard even with the migration's indexes. Three times that, still far
// below the demo's million, and the index wins as it does in production.
const moreApplications = `INSERT INTO job_applications (job_id, candidate_id, status, applied_at, updated_at)
	SELECT jj.j, cand, (ARRAY['pending', 'reviewed', 'interview', 'rejected'])[1 + (cand + k) % 4], now() - k * interval '1 hour', now()
	FROM generate_series(1, (SELECT max(id) FROM candidates)) AS cand, generate_series(1, 60) AS k,
		LATERAL (SELECT 1 + (cand * 37 + k * 13) % (SELECT max(id) FROM jobs) AS j) AS jj
	WHERE NOT EXISTS (SELECT 1 FROM job_applications a WHERE a.candidate_id = cand AND a.job_id = jj.j)`;

/**
 * This week's fixes on the test's database, as the console makes them: the duplicates archived and the
 * migration applied (on job_applications at three times the seed, where the indexes win), the app role's
 * statement_timeout, and a backup that passed its restore test.
 */
async function applyFixes(s: Setup) {
	await s.db.client.query(moreApplications);
	await resolveDuplicates({target: s.target, audit: s.auditCtx}, builtinPlan);
	const applied = await startApply({target: s.target, audit: s.auditCtx, plan: builtinPlan, allowNoBackup: true, probe: false}).done;
	assert.equal(applied.outcome, 'ok', applied.message);
	// IN DATABASE: the role is shared by every test database of the cluster
	await s.db.client.query(`ALTER ROLE ${appRole} IN DATABASE ${s.db.name} SET statement_timeout = '30s'`);
	const record = await runBackup({target: s.target});
	const restore = await runRestoreTest({target: s.target, record});
	assert.equal(restore.passed, true, restore.differences.join('; '));
	return record;
}

async function check(s: Setup, opts: ChecklistOptions = options): Promise<ChecklistReport> {
	return assemble(await collectDb(s.monitor, opts), await collectLocal(s.key, opts), opts);
}

const item = (report: ChecklistReport, id: ItemId): ItemResult => report.items.find(i => i.id === id)!;
const evidence = (report: ChecklistReport, id: ItemId) => item(report, id).evidence.join('\n');

test('on the fresh database items 1-6 fail with their evidence, monitoring passes, the manual items are unknown', async t => {
	const report = await check(await setup(t));
	const verdicts = Object.fromEntries(report.items.map(i => [i.id, i.verdict]));
	assert.deepEqual([1, 2, 3, 5, 6].map(id => verdicts[id]), ['fail', 'fail', 'fail', 'fail', 'fail']);

	assert.match(evidence(report, 1), new RegExp(`alembic_version ${previousRevision}, needs ${migrationRevision} or later`));
	assert.match(evidence(report, 1), new RegExp(`0 of ${builtinPlan.objects.length} objects of the plan present and valid`));
	assert.match(evidence(report, 1), /missing: unique_candidate_job_application, .*idx_jobs_status_location_type/);

	assert.match(evidence(report, 2), /statement_timeout for intowork_app: not set for the role or database or server \(no limit\)/);
	assert.match(evidence(report, 2), /connect timeout: set in the backend, not readable from the server \(give --backend-dir\)/);
	assert.deepEqual(item(report, 2).fix, ["ALTER ROLE intowork_app SET statement_timeout = '30s';  -- new connections only: recycle the app's pool"]);

	assert.match(evidence(report, 3), /application_list: Seq Scan on job_applications \([\d,]+ rows\)/);
	assert.match(evidence(report, 3), /dashboard: Seq Scan on job_applications/);
	// jobs (2,000 rows) is under the threshold: a scan of it is not held against the plan
	assert.match(evidence(report, 3), /job_list: no seq scan on a table of 5,000\+ rows \(seq scans on small tables: jobs 2,000 rows, companies 50 rows\)/);

	// Item 4's verdict depends on the machine at this size (a seq scan of a few thousand rows answers in
	// milliseconds): it is asserted where the database makes it certain (the test below, and after the migration).

	assert.equal(evidence(report, 5), 'no backup in the catalog');
	assert.equal(evidence(report, 6), 'no backup in the catalog to restore');
	assert.equal(verdicts[7], 'pass');
	assert.match(evidence(report, 7), /collecting: [\d,]+ statements, [\d,]+ calls/);
	assert.deepEqual([8, 9, 10].map(id => verdicts[id]), ['unknown', 'unknown', 'unknown']);

	const held = report.items.filter(i => i.verdict === 'pass').reduce((n, i) => n + i.weight, 0);
	assert.equal(report.score.score, held);
	// this week's actions turn 1, 2, 5 and 6 green (7 already is): 15 + 10 + 15 + 10 more
	assert.equal(report.score.projected, held + 50);
	assert.deepEqual(
		report.score.critical.map(c => [c.label, c.done]),
		[
			['apply the migration', false],
			['set the query timeout', false],
			['set up monitoring', true],
			['take and test a backup', false],
		],
	);
	assert.equal(report.score.ready, false);
});

test('item 4 fails, with the p95 of each query over its target, when every list waits longer than the target', async t => {
	// Its own database, where jobs and job_applications answer no sooner than 120 ms whatever the machine:
	// each is a view that first sleeps once per query (a one-time filter) in front of its data. The sleep is
	// the server's own execution time, which is what the check reads.
	const slow = await testDatabase({after: t.after.bind(t)});
	for (const table of ['jobs', 'job_applications']) {
		await slow.client.query(`ALTER TABLE ${table} RENAME TO ${table}_data`);
		await slow.client.query(`CREATE VIEW ${table} AS SELECT * FROM ${table}_data WHERE (SELECT pg_sleep(0.12)) IS NOT NULL`);
	}
	const measured = await measureLatency(slow.client, 40);
	const {verdict, evidence: lines} = judgeLatency(measured);
	assert.equal(verdict, 'fail', lines.join('\n'));
	assert.equal(lines[0], 'p95 over target: job list (100 ms), application list (50 ms); targets: job list 100 ms, application list 50 ms');
	assert.match(lines[1]!, /^job_list: p95 [\d.]+ms > 100 ms over 3 runs .*\(stopped after 3 of 40: 3 over target\)$/);
	assert.match(lines[2]!, /^application_list: p95 [\d.]+ms > 50 ms over 3 runs .*\(stopped after 3 of 40: 3 over target\)$/);
	for (const timing of measured.timings) assert.ok(timing.p95 >= 120, `${timing.query}: p95 ${timing.p95} ms, at least the view's sleep`);
});

test('check --json and --markdown before the fixes: exit 1, every verdict, a ticket-ready table', async t => {
	const s = await setup(t);
	const json = await s.cli(['check', '--json', '--seq-scan-rows', '5000', '--samples', '40']);
	assert.equal(json.code, 1, json.stderr);
	const parsed = JSON.parse(json.stdout) as {ready: boolean; score: number; target: string; items: ItemResult[]};
	assert.equal(parsed.ready, false);
	assert.doesNotMatch(parsed.target, /postgres:postgres@/);
	assert.deepEqual(
		parsed.items.filter(i => [1, 2, 3, 5, 6].includes(i.id)).map(i => i.verdict),
		['fail', 'fail', 'fail', 'fail', 'fail'],
	);

	const md = await s.cli(['check', '--markdown', '--seq-scan-rows', '5000', '--samples', '40']);
	assert.equal(md.code, 1, md.stderr);
	assert.match(md.stdout, /^### Production checklist: \d+\/100 → \d+\/100 after this week's critical actions$/m);
	assert.match(md.stdout, /^\| 1 \| Migration h8c2d6e5f4g3 applied \| ❌ fail \| alembic_version g7b1c5d4e3f2, needs h8c2d6e5f4g3 or later<br>0 of \d+ objects/m);
	assert.match(md.stdout, /^\| 8 \| Team trained on operational tasks \| ❔ unknown \|/m);
	assert.match(md.stdout, /^- \[ \] apply the migration \(item 1\)$/m);
	assert.match(md.stdout, /^```\nALTER ROLE intowork_app SET statement_timeout = '30s';/m);
	assert.match(md.stdout, /\*\*not ready: \d+ of 10 required items do not pass\.\*\*/);
});

test('bad input: one line, exit 2, no stack', async t => {
	const s = await setup(t);
	for (const args of [
		['check', '--json', '--markdown'],
		['check', '--samples', 'many'],
		['check', '--clients', '5'],
		['check', '--backend-dir', '/no/such/backend'],
		['check', 'postgres://elsewhere/db'],
	]) {
		const r = await s.cli(args);
		assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
		assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
		assert.doesNotMatch(r.stderr, /\n\s+at /);
	}
	const readOnly = await s.cli(['check', '--load-test', '--read-only']);
	assert.equal(readOnly.code, 2);
	assert.match(readOnly.stderr, /--load-test .* not under --read-only/);
});

test('the load test runs read-only sessions, reports numbers, and is stored for check', async t => {
	const s = await setup(t);
	const progress: number[] = [];
	const result = await runLoadTest(s.target, s.monitor, {clients: 4, durationMs: 1500, onProgress: p => progress.push(p.queries)});
	assert.equal(result.connected, 4);
	assert.equal(result.errors, 0, result.errorSamples.join('; '));
	assert.ok(result.queries > 0);
	assert.ok(result.p95 >= result.p50 && result.max >= result.p95);
	assert.ok((result.perQuery.job_list?.count ?? 0) > 0);
	assert.ok(result.peakOwn >= 1 && result.peakConnections >= result.peakOwn, JSON.stringify(result));
	assert.ok(progress.length > 0);
	saveLoadTest(s.auditCtx, result);
	assert.equal(readLoadTest(s.key)?.queries, result.queries);

	const report = await check(s);
	assert.equal(item(report, 10).verdict, 'fail');
	assert.match(evidence(report, 10), /4\/4 clients for [\d.]+s: [\d,]+ queries/);
	assert.match(evidence(report, 10), /does not count: 4 concurrent clients, fewer than 100; ran [\d.]+s, less than 30s/);
	assert.deepEqual(
		readAudit(s.key).filter(e => e.action === 'checklist.load-test').map(e => e.detail?.clients),
		[4],
	);
});

test("a load test session cannot write, and the test refuses without connection headroom", async t => {
	const s = await setup(t);
	const client = new pg.Client(loadTestConfig(s.target, 5000));
	await client.connect();
	try {
		await assert.rejects(client.query('CREATE TEMP TABLE t (x int)'), /read-only transaction/);
	} finally {
		await client.end();
	}
	await assert.rejects(runLoadTest(s.target, s.monitor, {clients: 1000, durationMs: 1000}), /refusing the load test: 1000 clients need 1000 connections and \d+ must stay free, but only \d+ of \d+ usable are free/);
	const r = await s.cli(['check', '--load-test', '--clients', '1000', '--duration', '1s']);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /^refusing the load test: 1000 clients/);
});

test('statement_timeout: database and role levels in precedence, and the backend overriding them', async t => {
	const {db, monitor, stateDir, defer} = await setup(t);
	// a role of the test's own: roles are the cluster's, shared by every test database
	const role = `chk_app_${process.pid}`;
	await db.client.query(`CREATE ROLE ${role} LOGIN`);
	defer(() => db.client.query(`DROP ROLE IF EXISTS ${role}`));
	await db.client.query(`ALTER DATABASE ${db.name} SET statement_timeout = '45s'`);
	let timeouts = await readTimeouts(monitor, role);
	assert.deepEqual(timeouts.effective, {level: 'database', value: '45s', ms: 45_000});
	await db.client.query(`ALTER ROLE ${role} SET statement_timeout = '2min'`);
	timeouts = await readTimeouts(monitor, role);
	assert.deepEqual(timeouts.effective, {level: 'role', value: '2min', ms: 120_000});
	const opts = {...options, appRole: role};
	let judged = judgeTimeouts(timeouts, undefined, opts);
	assert.equal(judged.verdict, 'fail');
	assert.match(judged.evidence.join('\n'), /a query may run 2m00s, more than 30s/);
	assert.deepEqual(judged.fix, [`ALTER ROLE ${role} SET statement_timeout = '30s';  -- new connections only: recycle the app's pool`]);

	const backend = path.join(stateDir, 'backend');
	const write = (file: string, text: string) => {
		fs.mkdirSync(path.dirname(path.join(backend, file)), {recursive: true});
		fs.writeFileSync(path.join(backend, file), text);
	};
	write('app/db/session.py', 'from sqlalchemy.ext.asyncio import create_async_engine\nengine = create_async_engine(settings.DATABASE_URL, pool_size=20, pool_timeout=30)\n');
	write('tests/conftest.py', 'engine = create_async_engine(url, connect_args={"server_settings": {"statement_timeout": "999999"}})\n');
	write('docs/RUNBOOK.md', '# Runbook\n');
	let scan = scanBackend(backend);
	assert.deepEqual(scan.statementTimeouts, []);
	assert.deepEqual(scan.engineFiles, [path.join('app', 'db', 'session.py')]);
	assert.deepEqual(scan.runbooks, [path.join('docs', 'RUNBOOK.md')]);
	judged = judgeTimeouts(timeouts, scan, opts);
	assert.equal(judged.verdict, 'fail');
	assert.match(judged.evidence.join('\n'), /no connect timeout in the backend \(1 configuration files read; asyncpg waits 60 s by default\)/);
	assert.ok(judged.fix?.includes(`# in ${path.join('app', 'db', 'session.py')}:`));
	assert.ok(judged.fix?.some(l => l.includes('"server_settings": {"statement_timeout": "30s"}')));

	write(
		'app/db/session.py',
		[
			'engine = create_async_engine(',
			'    settings.DATABASE_URL,',
			'    pool_timeout=30,',
			'    # connect_args={"timeout": 60},',
			'    connect_args={"timeout": 10, "command_timeout": 60, "server_settings": {"statement_timeout": "30000"}},',
			')',
		].join('\n'),
	);
	scan = scanBackend(backend);
	assert.deepEqual(
		[scan.statementTimeouts, scan.commandTimeouts, scan.connectTimeouts].map(fs => fs.map(f => [f.line, f.ms])),
		[[[5, 30_000]], [[5, 60_000]], [[5, 10_000]]],
	);
	judged = judgeTimeouts(timeouts, scan, opts);
	assert.equal(judged.verdict, 'pass', judged.evidence.join('\n'));
	assert.match(judged.evidence.join('\n'), /backend app\/db\/session\.py:5: statement_timeout 30s/);
	assert.equal(parsePgDuration('1500'), 1500);
	assert.equal(parsePgDuration('1h'), 3_600_000);
});

test('monitoring fails with the exact fix when the extension is not created, and passes again when it is', async t => {
	const {db, monitor} = await setup(t);
	await db.client.query('DROP EXTENSION pg_stat_statements');
	const judged = judgeMonitoring(await readMonitoring(monitor));
	assert.equal(judged.verdict, 'fail');
	assert.match(judged.evidence.join('\n'), /shared_preload_libraries includes pg_stat_statements\nextension not created in this database/);
	assert.deepEqual(judged.fix, ['CREATE EXTENSION pg_stat_statements;']);
	await db.client.query('CREATE EXTENSION pg_stat_statements');
	assert.equal(judgeMonitoring(await readMonitoring(monitor)).verdict, 'pass');
});

test('sign-offs are stored per target, withdrawn with a record, and audited', async t => {
	const s = await setup(t);
	const {auditCtx, key, stateDir} = s;
	signOff(auditCtx, {item: 8, by: 'alice', note: 'incident drill on the 3rd'});
	let report = await check(s);
	assert.equal(item(report, 8).verdict, 'signed-off');
	assert.match(evidence(report, 8), /^signed off by alice \(as .+\) [\dms.]+ ago: incident drill on the 3rd$/);
	withdrawSignOff(auditCtx, 8, 'bob');
	assert.equal(currentSignOff(readSignOffs(key), 8), undefined);
	assert.equal(readSignOffs(key)[0]?.withdrawnBy, 'bob');
	report = await check(s);
	assert.equal(item(report, 8).verdict, 'unknown');

	const runbook = path.join(stateDir, 'runbook.md');
	fs.writeFileSync(runbook, '# Runbook\n');
	signOff(auditCtx, {item: 9, by: 'alice', note: 'runbook reviewed', path: runbook});
	report = await check(s);
	assert.equal(item(report, 9).verdict, 'pass');
	assert.match(evidence(report, 9), new RegExp(`runbook ${runbook} exists \\(10 bytes`));
	fs.rmSync(runbook);
	report = await check(s);
	assert.equal(item(report, 9).verdict, 'fail');
	assert.match(evidence(report, 9), /does not exist/);
	assert.deepEqual(
		readAudit(key)
			.filter(e => e.action.startsWith('checklist.') && e.action !== 'checklist.load-test' && e.action !== 'checklist.check')
			.map(e => [e.action, e.detail?.item]),
		[
			['checklist.signoff', 8],
			['checklist.withdraw', 8],
			['checklist.signoff', 9],
		],
	);
});

test('the p95 judgement and percentile', () => {
	assert.equal(percentile([5, 1, 4, 2, 3], 95), 5);
	assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 95), 19);
	const base = {query: 'job_list' as const, targetMs: 100, samples: 20, p50: 40, max: 300, overTarget: 2, errors: 0, stoppedEarly: false};
	assert.equal(judgeLatency({at: '', requested: 20, timings: [{...base, p95: 99}]}).verdict, 'pass');
	const slow = judgeLatency({at: '', requested: 20, timings: [{...base, p95: 250, samples: 3, overTarget: 3, stoppedEarly: true}]});
	assert.equal(slow.verdict, 'fail');
	assert.equal(slow.evidence[0], 'p95 over target: job list (100 ms); targets: job list 100 ms');
	assert.match(slow.evidence[1]!, /job_list: p95 250\.0ms > 100 ms over 3 runs .* \(stopped after 3 of 20: 3 over target\)/);
	// the job list is fast, the application list is not: the item must not read as the job list's failure
	const apps = judgeLatency({at: '', requested: 20, timings: [{...base, p95: 20}, {...base, query: 'application_list', targetMs: 50, p95: 72}]});
	assert.equal(apps.verdict, 'fail');
	assert.equal(apps.evidence[0], 'p95 over target: application list (50 ms); targets: job list 100 ms, application list 50 ms');
	assert.equal(itemDef(4).title, 'Job list under 100 ms, application list under 50 ms');
});

test("the readme's checklist table shows the code's titles and weights (one source: items.ts)", () => {
	const readme = fs.readFileSync(path.join(here, '..', '..', 'readme.md'), 'utf8');
	const section = readme.slice(readme.indexOf('### 8 Checklist'), readme.indexOf('### 9 Activity'));
	const rows = [...section.matchAll(/^\| (\d+) \| (.+?) \| .* \| (\d+) \|$/gm)].map(m => ({id: Number(m[1]), title: m[2], weight: Number(m[3])}));
	assert.deepEqual(rows, items.map(i => ({id: i.id, title: itemTitle(i, defaultOptions), weight: i.weight})));
	assert.equal(items.reduce((n, i) => n + i.weight, 0), 100);
});

test('after the migration, the timeout, a backup and its restore test, items 1-6 pass', async t => {
	const s = await setup(t);
	const record = await applyFixes(s);
	const {key} = s;
	const plan = builtinPlan;

	const report = await check(s);
	for (const id of [1, 2, 3, 4, 5, 6] as const) assert.equal(item(report, id).verdict, 'pass', `${id}: ${evidence(report, id)}`);
	assert.match(evidence(report, 1), new RegExp(`^alembic_version ${migrationRevision}\n${plan.objects.length} of ${plan.objects.length} objects`));
	assert.match(evidence(report, 2), /statement_timeout for intowork_app: 30s \(role in database level\)/);
	assert.match(evidence(report, 3), /^job_list: no seq scan on a table of 5,000\+ rows/);
	assert.match(evidence(report, 3), /dashboard: no seq scan on a table of 5,000\+ rows/);
	// the server's time for each run, index scans on a few thousand rows: a busy client does not enter it
	assert.match(evidence(report, 4), /^p95 within target: job list 100 ms, application list 50 ms\njob_list: p95 [\d.]+ms <= 100 ms over 40 runs \(server time; /);
	assert.match(evidence(report, 5), new RegExp(`verified backup ${record.id} \\(custom, .*\\): size and sha256 match`));
	assert.match(evidence(report, 6), new RegExp(`latest backup ${record.id} restored into intowork_restore_test_\\w+ .* row counts and objects match`));
	assert.deepEqual(
		report.score.critical.map(c => c.done),
		[true, true, true, true],
	);
	assert.equal(report.score.projected, report.score.score);

	// a file that no longer has its recorded checksum is not a verified backup
	fs.appendFileSync(readCatalog(key)[0]!.file, 'x');
	const tampered = await check(s);
	assert.equal(item(tampered, 5).verdict, 'fail');
	assert.match(evidence(tampered, 5), new RegExp(`backup ${record.id} .*: file size differs`));
});

test('check exits 0 once every required item passes or is signed off; the history records each run', async t => {
	const s = await setup(t);
	await applyFixes(s);
	const {auditCtx, key, stateDir} = s;
	// an earlier load test, too small to count: item 10 shows it beside the sign-off
	saveLoadTest(auditCtx, await runLoadTest(s.target, s.monitor, {clients: 4, durationMs: 1000}));
	signOff(auditCtx, {item: 8, by: 'alice', note: 'trained'});
	signOff(auditCtx, {item: 10, by: 'carol', note: 'k6 run, 150 VUs, p95 80 ms'});
	const runbook = path.join(stateDir, 'RUNBOOK.md');
	fs.writeFileSync(runbook, '# Runbook\n');
	const backend = path.join(stateDir, 'backend');
	fs.mkdirSync(path.join(backend, 'app', 'core'), {recursive: true});
	fs.writeFileSync(path.join(backend, 'app', 'core', 'database.py'), 'engine = create_async_engine(settings.DATABASE_URL, connect_args={"timeout": 10})\n');
	const args = ['check', '--seq-scan-rows', '5000', '--samples', '40', '--runbook', runbook, '--backend-dir', backend];
	const json = await s.cli([...args, '--json']);
	assert.equal(json.code, 0, json.stderr + json.stdout);
	const parsed = JSON.parse(json.stdout) as {ready: boolean; score: number; projected: number; items: ItemResult[]};
	assert.equal(parsed.ready, true);
	assert.equal(parsed.score, 100);
	assert.deepEqual(parsed.items[1]!.evidence, [
		'statement_timeout for intowork_app: 30s (role in database level)',
		`backend ${path.join('app', 'core', 'database.py')}:1: connect timeout 10s`,
	]);
	assert.deepEqual(
		parsed.items.map(i => i.verdict),
		['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'signed-off', 'pass', 'signed-off'],
	);
	const md = await s.cli([...args, '--markdown']);
	assert.equal(md.code, 0);
	assert.match(md.stdout, /^### Production checklist: 100\/100$/m);
	assert.match(md.stdout, /^\| 10 \| Load testing completed \(100\+ concurrent users\) \| ✍️ signed off \| signed off by carol .*: k6 run, 150 VUs, p95 80 ms<br>last run .* ago: 4\/4 clients/m);
	assert.doesNotMatch(md.stdout, /\*\*Fixes\*\*/);

	const text = await s.cli(args);
	assert.equal(text.code, 0);
	assert.match(text.stdout, /^ 1 PASS {7}Migration h8c2d6e5f4g3 applied$/m);
	assert.match(text.stdout, /^ready: all 10 required items pass or are signed off$/m);

	// a load test through check: too small to count, so the sign-off still carries item 10
	const loaded = await s.cli([...args, '--json', '--load-test', '--clients', '3', '--duration', '1s']);
	assert.equal(loaded.code, 0, loaded.stderr);
	assert.match(loaded.stderr, /^load test: 3 read-only clients for 1 s against postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+ \(\d+ connection slots free\)\nload test: 3\/3 clients for [\d.]+s: [\d,]+ queries/);
	const item10 = (JSON.parse(loaded.stdout) as {items: ItemResult[]}).items[9]!;
	assert.equal(item10.verdict, 'signed-off');
	assert.match(item10.evidence.join('\n'), /^last run [\dms.]+ ago: 3\/3 clients for/m);
	assert.match(item10.evidence.join('\n'), /^does not count: 3 concurrent clients, fewer than 100/m);

	const checks = readHistory(key).filter(h => h.source === 'check');
	// json, markdown, text and the load test's run
	assert.equal(checks.length, 4);
	assert.equal(checks.at(-1)!.score, 100);
	assert.match(readAudit(key).filter(e => e.action === 'checklist.check').at(-1)!.result, /^score 100\/100, every required item passes$/);
});
