import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {readAudit} from '../source/audit.js';
import {sessionPool} from './helpers/backends.js';
import {runCli} from './helpers/cli.js';
import {plainRole, testDatabase, waitFor} from './helpers/db.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-kill-cli-'));
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const pool = sessionPool(db);
const appUrl = await plainRole(db, 'kill_cli_app', 'kill_cli_app');
const auditKey = {host: '127.0.0.1', port: db.info.port, database: db.name};
const audited = () => readAudit(auditKey, 500, {INTOWORK_DB_STATE: stateDir});

const kill = (args: string[], url = db.url) => runCli(['kill', ...args], {env: {DATABASE_URL: url, INTOWORK_DB_STATE: stateDir}});

const sleeper = await pool.sleeper('cli-sleep', {url: appUrl});
const idleTx = await pool.idleInTransaction('cli-idletx', appUrl);

test('bad input: one clear line, exit 2, no stack trace, nothing changed', async () => {
	const cases: Array<[string[], RegExp]> = [
		[[], /^kill: say which sessions: --hanging/],
		[['--hanging', '--state', 'sleeping'], /^--state: "sleeping" is not active or idle-in-transaction$/],
		[['--hanging', '--older-than', 'soon'], /^--older-than: "soon" is not a duration/],
		[['--hanging', '--read-only', '--yes'], /^kill signals sessions on the server: not under --read-only$/],
		[['--hanging', '--force'], /^unknown option --force/],
		[['--hanging', 'postgres://elsewhere/db', '--demo'], /^--demo starts its own database: give either a DSN or --demo$/],
	];
	for (const [args, message] of cases) {
		const r = await kill(args);
		assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
		assert.match(r.stderr.trim(), message);
		assert.equal(r.stderr.trim().split('\n').length, 1);
		assert.equal(r.stdout, '');
	}
	assert.equal((await pool.stateOf(sleeper.pid))?.state, 'active');
	assert.equal((await pool.stateOf(idleTx.pid))?.state, 'idle in transaction');
});

/** The sessions a test just opened are past the 200 ms --older-than before the command looks, however fast the machine. */
async function pastThreshold(pids: number[]): Promise<void> {
	await waitFor(
		async () =>
			(await db.client.query<{n: string}>("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1) AND now() - state_change > interval '300 ms'", [pids])).rows[0]?.n === String(pids.length),
		{message: `sessions ${pids.join(', ')} past 300 ms in their state`},
	);
}

test('without --yes: lists what it would do and changes nothing; --dry-run too, even with --yes', async t => {
	const r = await kill(['--hanging', '--older-than', '200ms']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^2 hanging sessions \(active > 200ms, idle in transaction > 200ms\) in postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+:$/m);
	assert.match(r.stdout, new RegExp(`^  pid ${sleeper.pid}  kill_cli_app  cli-sleep  active \\S+  query start \\d\\d:\\d\\d:\\d\\d  SELECT pg_sleep\\(120\\)$`, 'm'));
	assert.match(r.stdout, new RegExp(`^  pid ${idleTx.pid}  kill_cli_app  cli-idletx  idle in tx `, 'm'));
	assert.match(r.stdout, new RegExp(`note: pid ${idleTx.pid} idle in transaction: a cancel does nothing there; --terminate ends them`));
	assert.match(r.stdout, /^Not confirmed: would cancel 2 sessions; nothing was sent\. Add --yes to do it\.$/m);
	const dry = await kill(['--hanging', '--older-than', '200ms', '--terminate', '--dry-run', '--yes']);
	assert.equal(dry.code, 0);
	assert.match(dry.stdout, /^Dry run: would terminate 2 sessions; nothing was sent\.$/m);
	assert.equal((await pool.stateOf(sleeper.pid))?.state, 'active');
	assert.equal((await pool.stateOf(idleTx.pid))?.state, 'idle in transaction');
	assert.deepEqual(audited(), [], 'nothing done, nothing logged');
	// a database with no session past the default thresholds, however slow the machine: this test's own, with none of the file's sessions
	const quiet = await testDatabase({after: t.after.bind(t)});
	const none = await kill(['--hanging'], quiet.url);
	assert.equal(none.code, 0, none.stderr);
	assert.match(none.stdout, /^No hanging session \(active or idle in transaction; active > 30s, idle in transaction > 1m00s\) in /);
});

test('--terminate --yes --state idle-in-transaction ends exactly those, exit 0, logged', async () => {
	const r = await kill(['--hanging', '--older-than', '200ms', '--state', 'idle-in-transaction', '--terminate', '--yes']);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, new RegExp(`^  pid ${idleTx.pid}: terminated$`, 'm'));
	assert.match(r.stdout, /^Terminate: 1 terminated\.$/m);
	assert.ok(await pool.gone(idleTx.pid));
	assert.equal((await pool.stateOf(sleeper.pid))?.state, 'active', 'the active one is not in --state');
	const [entry] = audited();
	assert.deepEqual(
		{action: entry?.action, result: entry?.result, pids: entry?.pids, via: entry?.detail?.via, role: entry?.role, query: entry?.query},
		{action: 'terminate', result: 'terminated', pids: [idleTx.pid], via: 'cli', role: 'postgres', query: 'SELECT 1'},
	);
});

test('the default is cancel: the running query stops, the session stays', async () => {
	const r = await kill(['--hanging', '--older-than', '200ms', '--state', 'active', '--yes']);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, new RegExp(`^  pid ${sleeper.pid}: cancelled$`, 'm'));
	assert.equal((await sleeper.running.done)?.code, '57014');
	assert.equal((await pool.stateOf(sleeper.pid))?.state, 'idle');
});

test('cancel --yes when the only untouched sessions are idle in transaction: says a cancel cannot reach them, exit 0', async () => {
	const idle = await pool.idleInTransaction('cli-idle-only', appUrl);
	await pastThreshold([idle.pid]);
	const r = await kill(['--hanging', '--older-than', '200ms', '--yes']);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, new RegExp(`^  pid ${idle.pid}: nothing to cancel \\(idle in transaction: no query to cancel`, 'm'));
	assert.match(r.stdout, new RegExp(`^Left as they were: pid ${idle.pid} idle in transaction, which a cancel cannot reach; --terminate ends them`, 'm'));
	assert.equal((await pool.stateOf(idle.pid))?.state, 'idle in transaction');
	const ended = await kill(['--hanging', '--older-than', '200ms', '--terminate', '--yes']);
	assert.equal(ended.code, 0, ended.stdout);
	assert.ok(await pool.gone(idle.pid));
});

test('exit 1 when anything was not done: a protected session refused, a denied signal', async () => {
	const backup = await pool.sleeper('intowork-db/backup');
	const idle = await pool.idleInTransaction('cli-idle2', appUrl);
	await pastThreshold([backup.pid, idle.pid]);
	const r = await kill(['--hanging', '--older-than', '200ms', '--yes']);
	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, new RegExp(`^  refused: pid ${backup.pid}  postgres  intowork-db/backup  active`, 'm'));
	assert.match(r.stdout, /^ {4}reason: an intowork-db operation \(intowork-db\/backup\): it fails half-way$/m);
	assert.match(r.stdout, new RegExp(`^  pid ${idle.pid}: nothing to cancel \\(idle in transaction: no query to cancel; terminate ends the session`, 'm'));
	assert.match(r.stdout, new RegExp(`^  pid ${backup.pid}: refused \\(an intowork-db operation`, 'm'));
	assert.equal((await pool.stateOf(backup.pid))?.state, 'active');
	assert.equal((await pool.stateOf(idle.pid))?.state, 'idle in transaction');
	assert.ok(audited().some(e => e.action === 'refuse' && e.pids?.[0] === backup.pid && e.detail?.via === 'cli'));

	const monitorUrl = await plainRole(db, 'kill_cli_monitor', 'kill_cli_monitor');
	await db.client.query('GRANT pg_monitor TO kill_cli_monitor');
	const victim = await pool.sleeper('cli-victim', {url: appUrl});
	await pastThreshold([victim.pid]);
	const denied = await kill(['--hanging', '--older-than', '200ms', '--state', 'active', '--terminate', '--yes'], monitorUrl);
	assert.equal(denied.code, 1);
	assert.match(denied.stdout, new RegExp(`^  pid ${victim.pid}: permission denied \\(GRANT pg_signal_backend TO "kill_cli_monitor";`, 'm'));
	assert.equal((await pool.stateOf(victim.pid))?.state, 'active');
});
