import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {executeKill, protection, signalSql, stillRunning, toKillTarget, type KillTarget} from '../source/actions/kill.js';
import {readAudit} from '../source/audit.js';
import {connectionsSql, loadConnections, waitersSql, type Backend} from '../source/db/connections.js';
import {detectCapabilities} from '../source/db/capabilities.js';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {defaultThresholds} from '../source/store/store.js';
import {sessionPool} from './helpers/backends.js';
import {plainRole, testDatabase, waitFor} from './helpers/db.js';
import {defaultConfig} from '../source/config.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-kill-action-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const pool = sessionPool(db);
const target = resolveTarget({dsn: db.url, env: {}});
const monitor = new Monitor(target);
await monitor.connect();
after(() => monitor.close());
const caps = await detectCapabilities(monitor);
const auditKey = {host: target.host, port: target.port, database: target.database};

/** The backend as the Connections screen's loader reads it: what a user confirms. */
async function seen(pid: number): Promise<Backend> {
	const data = await loadConnections({db: monitor, caps, thresholds: defaultThresholds, config: defaultConfig, ownPid: monitor.state.backendPid}, undefined);
	const b = data.backends.find(x => x.pid === pid);
	assert.ok(b, `pid ${pid} listed`);
	return b;
}

const options = {via: 'console' as const, role: caps.role};

test('cancel stops a real running query; the session stays', async () => {
	const s = await pool.sleeper('act-cancel');
	const [o] = await executeKill(target, 'cancel', [toKillTarget(await seen(s.pid))], options);
	assert.equal(o!.result, 'cancelled');
	assert.equal((await s.running.done)?.code, '57014', 'the client saw "canceling statement due to user request"');
	assert.equal((await pool.stateOf(s.pid))?.state, 'idle');
});

test('terminate ends a real idle-in-transaction session; it is gone from the server', async () => {
	const s = await pool.idleInTransaction('act-terminate');
	const [o] = await executeKill(target, 'terminate', [toKillTarget(await seen(s.pid))], options);
	assert.equal(o!.result, 'terminated');
	assert.ok(await pool.gone(s.pid));
	await s.closed;
});

test('a reused pid is never hit: backend_start differs, so nothing is sent', async () => {
	const s = await pool.sleeper('act-reused');
	const confirmed = toKillTarget(await seen(s.pid));
	// the pid as a user saw it for an earlier backend
	const stale: KillTarget = {...confirmed, backendStart: '2001-01-01T00:00:00.000001Z'};
	for (const mode of ['terminate', 'cancel'] as const) {
		const [o] = await executeKill(target, mode, [stale], options);
		assert.equal(o!.result, 'changed', mode);
		assert.match(o!.detail ?? '', new RegExp(`pid ${s.pid} is now another session`));
	}
	assert.equal((await pool.stateOf(s.pid))?.state, 'active', 'still running, untouched');
});

test('cancel acts only on the confirmed query: a session that moved on to another query is not touched', async () => {
	const s = await pool.sleeper('act-moved');
	const confirmed = toKillTarget(await seen(s.pid));
	const [o] = await executeKill(target, 'cancel', [{...confirmed, queryStart: '2001-01-01T00:00:00.000001Z'}], options);
	assert.equal(o!.result, 'changed');
	assert.equal(o!.detail, 'it has moved on to another query');
	assert.equal((await pool.stateOf(s.pid))?.state, 'active');
});

test('cancel on an idle transaction sends nothing and says terminate is needed; an ended session is "gone"', async () => {
	const idle = await pool.idleInTransaction('act-idle');
	const [o] = await executeKill(target, 'cancel', [toKillTarget(await seen(idle.pid))], options);
	assert.equal(o!.result, 'not-running');
	assert.match(o!.detail ?? '', /idle in transaction: no query to cancel; terminate ends the session/);
	assert.equal((await pool.stateOf(idle.pid))?.state, 'idle in transaction');

	const ended = await pool.session('act-ended');
	const before = toKillTarget(await seen(ended.pid));
	await ended.client.end();
	await waitFor(() => pool.gone(ended.pid));
	const [g] = await executeKill(target, 'terminate', [before], options);
	assert.equal(g!.result, 'gone');
});

test("a role without pg_signal_backend gets 'permission denied' with the GRANT, and the session lives on", async () => {
	const victimUrl = await plainRole(db, 'kill_act_victim', 'kill_act_victim');
	// pg_monitor to see other sessions, but no pg_signal_backend: a typical monitoring role
	const actorUrl = await plainRole(db, 'kill_act_actor', 'kill_act_actor');
	await db.client.query('GRANT pg_monitor TO kill_act_actor');
	const actor = {target: resolveTarget({dsn: actorUrl, env: {}}), options: {via: 'console' as const, role: 'kill_act_actor'}};
	const victim = await pool.sleeper('act-victim', {url: victimUrl});
	const confirmed = toKillTarget(await seen(victim.pid));
	const [o] = await executeKill(actor.target, 'terminate', [confirmed], actor.options);
	assert.equal(o!.result, 'denied');
	assert.match(o!.detail ?? '', /^GRANT pg_signal_backend TO "kill_act_actor";/);
	assert.equal((await pool.stateOf(victim.pid))?.state, 'active');

	// a superuser's session: no GRANT helps
	const su = await pool.sleeper('act-superuser');
	const [s] = await executeKill(actor.target, 'cancel', [toKillTarget(await seen(su.pid))], actor.options);
	assert.equal(s!.result, 'denied');
	assert.equal(s!.detail, "a superuser's session: only a superuser may cancel or terminate it (connect as a superuser to do it)");
	assert.equal((await pool.stateOf(su.pid))?.state, 'active');

	// without pg_monitor a superuser's session is hidden, yet granting pg_monitor would not allow a signal: say what would
	const blindSuUrl = await plainRole(db, 'kill_act_blind_su', 'kill_act_blind_su');
	const blindTarget = resolveTarget({dsn: blindSuUrl, env: {}});
	const blindMonitor = new Monitor(blindTarget);
	await blindMonitor.connect();
	try {
		const blindCaps = await detectCapabilities(blindMonitor);
		const data = await loadConnections({db: blindMonitor, caps: blindCaps, thresholds: defaultThresholds, config: defaultConfig, ownPid: blindMonitor.state.backendPid}, undefined);
		const hiddenSu = data.backends.find(x => x.pid === su.pid)!;
		assert.equal(hiddenSu.hidden, true);
		const refusal = protection(hiddenSu, 'kill_act_blind_su');
		assert.equal(refusal?.level, 'refuse');
		assert.doesNotMatch(refusal!.reason, /pg_monitor/);
		assert.match(refusal!.reason, /only a superuser may cancel or terminate it \(connect as a superuser/);
		const [h] = await executeKill(blindTarget, 'cancel', [toKillTarget(hiddenSu)], {via: 'console', role: 'kill_act_blind_su'});
		assert.equal(h!.result, 'denied');
		assert.doesNotMatch(h!.detail ?? '', /pg_monitor/);
		assert.match(h!.detail ?? '', /connect as a superuser/);
	} finally {
		await blindMonitor.close();
	}
	assert.equal((await pool.stateOf(su.pid))?.state, 'active');

	// without pg_monitor the session cannot even be checked: nothing is sent
	const blindUrl = await plainRole(db, 'kill_act_blind', 'kill_act_blind');
	const [b] = await executeKill(resolveTarget({dsn: blindUrl, env: {}}), 'terminate', [confirmed], {via: 'console', role: 'kill_act_blind'});
	assert.equal(b!.result, 'denied');
	assert.match(b!.detail ?? '', /GRANT pg_monitor TO "kill_act_blind";/);
	assert.equal((await pool.stateOf(victim.pid))?.state, 'active');
});

test('stillRunning finds a cancelled query that kept running (it traps the cancel)', async () => {
	const stubborn = await pool.sleeper('act-stubborn', {
		sql: 'DO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$',
	});
	const t = toKillTarget(await seen(stubborn.pid));
	const [o] = await executeKill(target, 'cancel', [t], options);
	assert.equal(o!.result, 'cancelled');
	assert.deepEqual(await stillRunning(monitor, [t]), [stubborn.pid]);
	const plain = await pool.sleeper('act-plain');
	const p = toKillTarget(await seen(plain.pid));
	await executeKill(target, 'cancel', [p], options);
	await plain.running.done;
	assert.deepEqual(await stillRunning(monitor, [p]), []);
});

test('the SQL for older servers (no pg_locks.waitstart before 14, no leader_pid before 13, no terminate timeout before 14) runs too', async () => {
	const chain = await pool.lockChain('act-old', 1);
	for (const major of [12, 13]) {
		const r = await monitor.query<{pid: number; wait_event_type: string | null}>(connectionsSql(major));
		assert.equal(r.rows.find(row => row.pid === chain.waiters[0]!.pid)?.wait_event_type, 'Lock', `major ${major}`);
		const w = await monitor.query<{pid: number; blocked_by: number[] | null; wait_ms: string | null}>(waitersSql(major), [[chain.waiters[0]!.pid]]);
		assert.deepEqual(w.rows[0]?.blocked_by, [chain.blocker.pid], `major ${major}`);
		// no pg_locks.waitstart before 14: the loader counts the wait from the state change
		assert.equal(w.rows[0]?.wait_ms, null);
		const data = await loadConnections({db: monitor, caps: {...caps, major}, thresholds: defaultThresholds, config: defaultConfig, ownPid: monitor.state.backendPid}, undefined);
		const waiter = data.backends.find(b => b.pid === chain.waiters[0]!.pid);
		assert.deepEqual(waiter?.blockedBy, [chain.blocker.pid]);
		assert.ok((waiter?.lockWaitMs ?? 0) > 0);
	}
	const b = toKillTarget(await seen(chain.blocker.pid));
	const r = await db.client.query<{signalled: boolean}>(signalSql('terminate', false), [b.pid, b.backendStart, b.queryStart]);
	assert.equal(r.rows[0]!.signalled, true);
	await chain.blocker.closed;
	assert.equal(await chain.waiters[0]!.running.done, undefined, 'released');
});

test('every action is in the audit log: time, OS user, role, redacted target, action, pid, query, result', () => {
	const entries = readAudit(auditKey);
	const cancel = entries.find(e => e.action === 'cancel' && e.detail?.application === 'act-cancel');
	assert.ok(cancel);
	assert.equal(cancel.result, 'cancelled');
	assert.equal(cancel.role, 'postgres');
	assert.equal(cancel.osUser, os.userInfo().username);
	assert.match(cancel.target, /^postgres:\*\*\*@127\.0\.0\.1:\d+\/t_/);
	assert.ok(!Number.isNaN(Date.parse(cancel.time)));
	assert.equal(cancel.query, 'SELECT pg_sleep(120)');
	assert.equal(cancel.detail?.via, 'console');
	assert.equal(cancel.pids?.length, 1);
	const denied = entries.find(e => e.detail?.application === 'act-victim');
	assert.equal(denied?.role, 'kill_act_actor');
	assert.match(denied?.result ?? '', /^denied: GRANT pg_signal_backend/);
	assert.ok(entries.some(e => e.action === 'terminate' && e.result === 'terminated' && e.detail?.application === 'act-terminate'));
	assert.ok(entries.some(e => e.result.startsWith('changed') && e.detail?.application === 'act-reused'));
});
