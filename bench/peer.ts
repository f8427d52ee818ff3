import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import {asInstalled, openCommand, cliPath, type Terminal} from '../scripts/terminal.js';
import type {Row} from './table.js';

// The console beside its peer, pg_activity, in one run: the same loaded
// database, the same refresh interval, the same terminal size, measured the
// same way (pg_stat_statements for what the server spent, /proc for what the
// client spent). Only ratios are claimed: the machine is shared and noisy.

const peerRole = 'bench_peer';
const consoleRole = 'bench_console';
const intervalS = 1;
// USER_HZ: /proc reports CPU time in these ticks on Linux
const tick = 100;

type Subject = {label: string; role: string; open(url: string): Terminal; ready: RegExp; key?: string; screenReady?: RegExp};

export type PeerOptions = {
	/** seconds each subject is measured after warming up */
	seconds: number;
	/** the console's screens to measure, by label in lower case (all when undefined); with a choice, the first-screen section is left out */
	screens?: string[];
	/** after each subject, every statement of its role: calls, ms per call, planning, its text's start */
	detail?: boolean;
	/** the app role's DSN the load runs as */
	appUrl: string;
	log(line: string): void;
};

export type PeerResult = {perScreen: Row[]; startup: Row[]; rss: Row[]};

/** The program a terminal runs: the pane's shell starts it as its first child (by its pid: the console renames its process title). */
function pidIn(term: Terminal): number | undefined {
	const pane = term.display('#{pane_pid}');
	try {
		const child = fs.readFileSync(`/proc/${pane}/task/${pane}/children`, 'utf8').trim().split(/\s+/)[0];
		return child ? Number(child) : undefined;
	} catch {
		return undefined;
	}
}

/** user + system CPU of one process, in ms */
function cpuMs(pid: number): number {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
}

function rssMiB(pid: number): number {
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function roleUrl(admin: pg.Client, base: string, role: string): Promise<string> {
	await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN PASSWORD '${role}'; END IF; END $$`);
	await admin.query(`GRANT pg_monitor TO ${role}`);
	await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
	return base.replace(/\/\/[^@]+@/, `//${role}:${role}@`);
}

/** pgbench clients searching and reading jobs, plus idle sessions, about 200 in all as in the setup */
function startLoad(appUrl: string): {stop(): Promise<void>; idle: pg.Client[]; bench: ChildProcess} {
	const script = `${os.tmpdir()}/intowork-peer-${process.pid}.sql`;
	fs.writeFileSync(
		script,
		[
			'\\set id random(1, 200000)',
			'SELECT id, title, status FROM jobs WHERE id = :id;',
			'SELECT id, status FROM job_applications WHERE id = :id * 5;',
		].join('\n'),
	);
	// a paced rate keeps the machine able to run both consoles; 50 clients as in the issue
	const bench = spawn('pgbench', ['-n', '-c', '50', '-j', '2', '-R', '200', '-T', '3600', '-f', script, appUrl], {stdio: 'ignore'});
	const idle: pg.Client[] = [];
	return {
		idle,
		bench,
		async stop() {
			bench.kill('SIGINT');
			await Promise.all(idle.map(c => c.end().catch(() => undefined)));
			fs.rmSync(script, {force: true});
		},
	};
}

async function openIdle(appUrl: string, count: number, into: pg.Client[]) {
	for (let i = 0; i < count; i++) {
		const c = new pg.Client({connectionString: appUrl, application_name: 'intowork-idle'});
		c.on('error', () => undefined);
		try {
			await c.connect();
		} catch {
			// the server is full: the load has as many sessions as it can get
			return;
		}
		into.push(c);
	}
}

async function statsFor(admin: pg.Client, role: string) {
	const r = await admin.query<{statements: string; calls: string; top: string; exec: number; plan: number}>(
		`SELECT count(*) AS statements, coalesce(sum(calls), 0) AS calls, coalesce(max(calls), 0) AS top,
			coalesce(sum(total_exec_time), 0) AS exec, coalesce(sum(total_plan_time), 0) AS plan
		FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
		[role],
	);
	return r.rows[0]!;
}

/** Each statement of the role, most server time first: where a refresh's time goes. */
async function statementDetail(admin: pg.Client, role: string, refreshes: number): Promise<string[]> {
	const r = await admin.query<{calls: string; exec: number; plan: number; query: string}>(
		`SELECT calls, total_exec_time AS exec, total_plan_time AS plan, query
		FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1)
		ORDER BY total_exec_time + total_plan_time DESC`,
		[role],
	);
	return r.rows.map(row => {
		const calls = Number(row.calls);
		const text = row.query.replace(/\s+/g, ' ').trim().slice(0, 60);
		return `  ${String(calls).padStart(5)} calls  ${((row.exec + row.plan) / calls).toFixed(3).padStart(8)} ms/call (plan ${(row.plan / calls).toFixed(3)})  ${((row.exec + row.plan) / refreshes).toFixed(3).padStart(7)} ms/refresh  ${text}`;
	});
}

type Measured = {label: string; statementsPerRefresh: number; serverMs: number; planMs: number; cpuMs: number; refreshesPerS: number; rss: number};

async function measure(admin: pg.Client, term: Terminal, subject: Subject, seconds: number, detail?: (lines: string[]) => void): Promise<Measured> {
	const pid = pidIn(term);
	if (!pid) throw new Error(`${subject.label}: process not found in its terminal`);
	if (subject.key) {
		term.send(subject.key);
		if (subject.screenReady) await term.waitFor(subject.screenReady, 30_000);
	}
	// warm-up: the first refreshes of a screen prepare plans and fill caches
	await sleep(3000);
	await admin.query('SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = $1), 0, 0)', [subject.role]);
	const cpu0 = cpuMs(pid);
	await sleep(seconds * 1000);
	const cpu1 = cpuMs(pid);
	const s = await statsFor(admin, subject.role);
	// every refresh runs its main statement once: its call count is the number of refreshes
	const refreshes = Math.max(1, Number(s.top));
	if (detail) detail(await statementDetail(admin, subject.role, refreshes));
	return {
		label: subject.label,
		statementsPerRefresh: Number(s.calls) / refreshes,
		serverMs: (s.exec + s.plan) / refreshes,
		planMs: s.plan / refreshes,
		cpuMs: (cpu1 - cpu0) / refreshes,
		refreshesPerS: refreshes / seconds,
		rss: rssMiB(pid),
	};
}

function openPeer(url: string, name: string): Terminal {
	return openCommand(['pg_activity', '--refresh', String(intervalS), '--no-db-size', url], {columns: 200, rows: 50, name});
}

// as the bin runs it: its shebang's malloc setting and node flags
const installed = asInstalled();

function openConsole(url: string, name: string): Terminal {
	return openCommand([process.execPath, ...installed.nodeFlags, cliPath, url, '--interval', `${intervalS}s`], {columns: 200, rows: 50, name, env: installed.env});
}

// pg_activity draws its process table header (PID DATABASE ...) once rows arrive
const peerReady = /PID\s+DATABASE[\s\S]*\n\s*\d+\s/;
const consoleReady = /Connections\s+\S+ \d+ \/ \d+ usable/;

export async function benchPeer(adminUrl: string, options: PeerOptions): Promise<PeerResult | undefined> {
	if (spawnSync('pg_activity', ['--version']).status !== 0) {
		options.log('peer: pg_activity is not installed (apt-get install pg-activity); section skipped');
		return undefined;
	}
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	// planning is part of what a refresh costs the server
	await admin.query('ALTER SYSTEM SET pg_stat_statements.track_planning = on');
	await admin.query('SELECT pg_reload_conf()');
	const peerUrl = await roleUrl(admin, adminUrl, peerRole);
	const consoleUrl = await roleUrl(admin, adminUrl, consoleRole);
	const load = startLoad(options.appUrl);
	try {
		// about 150 sessions of the demo's 200 before the consoles join: the workload opens more at times
		await sleep(2000);
		const before = Number((await admin.query<{n: string}>('SELECT count(*) AS n FROM pg_stat_activity')).rows[0]!.n);
		await openIdle(options.appUrl, Math.max(0, 150 - before), load.idle);
		const sessions = (await admin.query<{n: string}>('SELECT count(*) AS n FROM pg_stat_activity')).rows[0]!.n;
		const loadAvg = os.loadavg()[0]!.toFixed(2);
		options.log(`peer: ${sessions} sessions, pgbench 50 clients at 200 tps, load average ${loadAvg}`);

		const screens = (
			[
				{label: 'Overview', key: '1', ready: consoleReady},
				{label: 'Connections', key: '2', ready: /sessions|Sessions/},
				{label: 'Queries', key: '3', ready: /calls|Calls/},
				{label: 'Cache', key: '4', ready: /hit/i},
				{label: 'Tables', key: '5', ready: /seq|Seq/},
			] satisfies Array<{label: string; key: string; ready: RegExp}>
		).filter(screen => !options.screens || options.screens.includes(screen.label.toLowerCase()));
		const detail = (label: string) => (options.detail ? (lines: string[]) => options.log(`peer: ${label}, per statement:\n${lines.join('\n')}`) : undefined);
		const results: Measured[] = [];
		const peerRuns: Measured[] = [];
		const peerSubject: Subject = {label: 'pg_activity', role: peerRole, open: u => openPeer(u, 'bench-peer'), ready: peerReady};
		const runPeer = async () => {
			const term = peerSubject.open(peerUrl);
			try {
				await term.waitFor(peerReady, 60_000);
				peerRuns.push(await measure(admin, term, peerSubject, options.seconds, detail('pg_activity')));
			} finally {
				term.kill();
			}
		};
		// the peer before and after the console's screens: the load drifts over a run
		await runPeer();
		for (const screen of screens) {
			options.log(`peer: measuring the console's ${screen.label}`);
			const term = openConsole(consoleUrl, 'bench-console');
			try {
				await term.waitFor(consoleReady, 60_000);
				results.push(await measure(admin, term, {label: screen.label, role: consoleRole, open: () => term, ready: consoleReady, key: screen.key, screenReady: screen.ready}, options.seconds, detail(screen.label)));
			} finally {
				term.kill();
			}
		}
		await runPeer();
		const peer: Measured = {
			label: 'pg_activity',
			statementsPerRefresh: median(peerRuns.map(p => p.statementsPerRefresh)),
			serverMs: (peerRuns[0]!.serverMs + peerRuns[1]!.serverMs) / 2,
			planMs: (peerRuns[0]!.planMs + peerRuns[1]!.planMs) / 2,
			cpuMs: (peerRuns[0]!.cpuMs + peerRuns[1]!.cpuMs) / 2,
			refreshesPerS: (peerRuns[0]!.refreshesPerS + peerRuns[1]!.refreshesPerS) / 2,
			rss: Math.max(peerRuns[0]!.rss, peerRuns[1]!.rss),
		};
		const perScreen: Row[] = [peer, ...results].map(m => [
			m.label,
			m.statementsPerRefresh.toFixed(1),
			m.serverMs.toFixed(1),
			m.planMs.toFixed(1),
			m === peer ? '1.00' : (m.serverMs / peer.serverMs).toFixed(2),
			m.cpuMs.toFixed(1),
			m === peer ? '1.00' : (m.cpuMs / peer.cpuMs).toFixed(2),
			m.refreshesPerS.toFixed(2),
			m.rss.toFixed(0),
		]);

		// first screen with data, and the CPU spent before it, median of 5 each; not when only some screens were asked for
		const startup: Row[] = [];
		const starts = [
			['pg_activity', () => openPeer(peerUrl, 'bench-peer'), peerReady],
			['intowork-db', () => openConsole(consoleUrl, 'bench-console'), consoleReady],
		] as const;
		for (const [label, open, ready] of options.screens ? [] : starts) {
			const ms: number[] = [];
			const cpu: number[] = [];
			for (let i = 0; i < 5; i++) {
				const started = Date.now();
				const term = open();
				try {
					let pid: number | undefined;
					while (!pid && Date.now() - started < 10_000) pid = pidIn(term);
					await term.waitFor(ready, 60_000);
					ms.push(Date.now() - started);
					if (pid) cpu.push(cpuMs(pid));
				} finally {
					term.kill();
				}
			}
			startup.push([label, String(median(ms)), String(median(cpu))]);
		}
		const rss: Row[] = [[`load average at the end`, os.loadavg()[0]!.toFixed(2)]];
		return {perScreen, startup, rss};
	} finally {
		await load.stop();
		await admin.query('ALTER SYSTEM RESET pg_stat_statements.track_planning');
		await admin.query('SELECT pg_reload_conf()');
		await admin.end();
	}
}

/**
 * The real console, rendering in a terminal at 250 ms on Connections, for
 * as long as asked (30 minutes in the readme): its RSS every minute.
 */
export async function benchMemoryTerminal(adminUrl: string, options: {minutes: number; appUrl: string; log(line: string): void}): Promise<Row[]> {
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	const consoleUrl = await roleUrl(admin, adminUrl, consoleRole);
	await admin.end();
	const idle: pg.Client[] = [];
	await openIdle(options.appUrl, 150, idle);
	const term = openCommand([process.execPath, ...installed.nodeFlags, cliPath, consoleUrl, '--interval', '250ms'], {columns: 200, rows: 50, name: 'bench-memory', env: installed.env});
	try {
		await term.waitFor(consoleReady, 60_000);
		const pid = pidIn(term);
		if (!pid) throw new Error('memory: the console process was not found');
		term.send('2');
		const rows: Row[] = [];
		const cpu0 = cpuMs(pid);
		const started = Date.now();
		for (let minute = 0; minute <= options.minutes; minute++) {
			if (minute > 0) await sleep(60_000);
			const achieved = /achieved ([\d.]+m?s)/.exec(term.capture())?.[1] ?? 'as asked';
			rows.push([`minute ${minute}`, rssMiB(pid).toFixed(1), ((cpuMs(pid) - cpu0) / (Date.now() - started) * 100).toFixed(1), achieved]);
			options.log(`memory: minute ${minute}, RSS ${rssMiB(pid).toFixed(1)} MiB`);
		}
		// the goal: flat after the start, less than +5 MiB from minute 2 to the end
		const at = (minute: number) => Number(rows[minute]?.[1]);
		const last = rows.length - 1;
		if (last > 2) rows.push([`minute 2 → minute ${last}`, `${at(last) - at(2) >= 0 ? '+' : ''}${(at(last) - at(2)).toFixed(1)}`, '', '']);
		return rows;
	} finally {
		term.kill();
		await Promise.all(idle.map(c => c.end().catch(() => undefined)));
	}
}

/**
 * The real console at `--interval 250ms` on Connections with about 200
 * sessions: the refreshes it achieves a second and its CPU, then paused (`p`):
 * its CPU while nothing should run, as % of one core.
 */
export async function benchPaced(adminUrl: string, options: {seconds: number; appUrl: string; log(line: string): void}): Promise<Row[]> {
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	const consoleUrl = await roleUrl(admin, adminUrl, consoleRole);
	const idle: pg.Client[] = [];
	const before = Number((await admin.query<{n: string}>('SELECT count(*) AS n FROM pg_stat_activity')).rows[0]!.n);
	await openIdle(options.appUrl, Math.max(0, 200 - before), idle);
	const sessions = (await admin.query<{n: string}>('SELECT count(*) AS n FROM pg_stat_activity')).rows[0]!.n;
	options.log(`paced: ${sessions} sessions, load average ${os.loadavg()[0]!.toFixed(2)}`);
	const term = openCommand([process.execPath, ...installed.nodeFlags, cliPath, consoleUrl, '--interval', '250ms'], {columns: 200, rows: 50, name: 'bench-paced', env: installed.env});
	try {
		await term.waitFor(consoleReady, 60_000);
		const subject: Subject = {label: 'Connections at 250 ms', role: consoleRole, open: () => term, ready: consoleReady, key: '2', screenReady: /sessions|Sessions/};
		const running = await measure(admin, term, subject, options.seconds);
		const pid = pidIn(term)!;
		// read before pausing: paused, the header shows "paused" in its place
		const achieved = /achieved ([\d.]+m?s)/.exec(term.capture())?.[1];
		term.send('p');
		await term.waitFor(/paused/i, 10_000);
		// what a pause stops may finish its last refresh first
		await sleep(2000);
		const cpu0 = cpuMs(pid);
		const started = Date.now();
		await sleep(options.seconds * 1000);
		const pausedPct = ((cpuMs(pid) - cpu0) / (Date.now() - started)) * 100;
		return [
			['sessions', sessions],
			['refreshes a second at 250 ms (4 asked)', running.refreshesPerS.toFixed(2)],
			['CPU % of a core, refreshing', ((running.cpuMs * running.refreshesPerS) / 10).toFixed(1)],
			['header says', achieved ? `achieved ${achieved}` : 'every 250ms'],
			[`CPU % of a core, paused (${options.seconds} s)`, pausedPct.toFixed(2)],
			['RSS MiB at the end', rssMiB(pid).toFixed(0)],
			['load average at the end', os.loadavg()[0]!.toFixed(2)],
		];
	} finally {
		term.kill();
		await Promise.all(idle.map(c => c.end().catch(() => undefined)));
		await admin.end();
	}
}
