import {performance} from 'node:perf_hooks';
import pg from 'pg';
import {appQueryContext, type AppQueryContext} from '../source/db/app-queries.js';
import {resolveTarget} from '../source/db/dsn.js';
import {countDuplicates, resolveDuplicates, undoDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {probeJobList, type Probe} from '../source/actions/migration/probe.js';
import {startApply, startDowngrade, type MigrationRun, type RunView} from '../source/actions/migration/run.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import {formatDuration, formatMs, formatNumber} from '../source/format.js';
import {errorText} from '../source/errors.js';

const writers = 4;
/** per writer: about the demo app's write traffic, several times over */
const writePauseMs = 20;
const probeRuns = 100;
const writeTargetMs = 1000;
/** a session the build has waited on this long is ended, as the operator would from the Connections screen */
const blockerGraceMs = 2000;
const runTimeoutMs = 15 * 60_000;

type WriteStats = {writes: number; errors: number; firstError?: string; maxMs: number; p99Ms: number; seconds: number; inserted: number[]};

const randomId = (max: number) => 1 + Math.floor(Math.random() * Math.max(1, max));

// SKIP LOCKED: a row another session holds (the demo's lock chain) is not the migration's doing; table locks still wait.
const updateSql = 'UPDATE jobs SET views_count = views_count + 1 WHERE id = (SELECT id FROM jobs WHERE id = $1 FOR UPDATE SKIP LOCKED)';
const insertSql = `INSERT INTO job_applications (job_id, candidate_id, status, applied_at, updated_at)
SELECT $1::int, $2::int, 'pending', now(), now()
WHERE NOT EXISTS (SELECT 1 FROM job_applications WHERE job_id = $1::int AND candidate_id = $2::int)
ON CONFLICT DO NOTHING
RETURNING id`;

/** Writers on jobs and job_applications, timing every statement, until stop(). */
function startWriters(url: string, ctx: AppQueryContext): {pids: Set<number>; stop(): Promise<WriteStats>} {
	let stopped = false;
	const pids = new Set<number>();
	const times: number[] = [];
	const inserted: number[] = [];
	let errors = 0;
	let firstError: string | undefined;
	const started = performance.now();
	const loops = Array.from({length: writers}, async (_, n) => {
		const client = new pg.Client({connectionString: url, application_name: 'intowork-db/bench-writer'});
		client.on('error', () => undefined);
		await client.connect();
		pids.add((await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
		try {
			for (let i = 0; !stopped; i++) {
				const t = performance.now();
				try {
					if ((i + n) % 2 === 0) await client.query(updateSql, [randomId(ctx.maxJob)]);
					else inserted.push(...(await client.query<{id: number}>(insertSql, [randomId(ctx.maxJob), randomId(ctx.maxCandidate)])).rows.map(r => r.id));
				} catch (error) {
					errors++;
					firstError ??= errorText(error);
				}
				times.push(performance.now() - t);
				await new Promise(resolve => setTimeout(resolve, writePauseMs));
			}
		} finally {
			await client.end().catch(() => undefined);
		}
	});
	return {
		pids,
		async stop() {
			stopped = true;
			await Promise.all(loops);
			const sorted = [...times].sort((a, b) => a - b);
			return {
				writes: times.length,
				errors,
				firstError,
				maxMs: sorted.at(-1) ?? 0,
				p99Ms: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0,
				seconds: (performance.now() - started) / 1000,
				inserted,
			};
		},
	};
}

/**
 * Ends the sessions the build keeps waiting for (not our writers): the demo
 * keeps a snapshot-holding export and a lock chain open on purpose.
 */
function watchBlockers(run: MigrationRun, admin: pg.Client, ours: Set<number>): {ended: string[]; stop(): void} {
	const since = new Map<number, number>();
	const ended: string[] = [];
	const timer = setInterval(() => {
		const waiting = run.view().steps.find(s => s.status === 'running')?.progress?.waitingFor ?? [];
		const now = Date.now();
		for (const w of waiting) {
			if (ours.has(w.pid)) continue;
			const first = since.get(w.pid) ?? now;
			since.set(w.pid, first);
			if (now - first < blockerGraceMs) continue;
			since.delete(w.pid);
			ended.push(`pid ${w.pid} ${w.application || w.state}`);
			void admin.query('SELECT pg_terminate_backend($1)', [w.pid]).catch(() => undefined);
		}
	}, 500);
	return {ended, stop: () => clearInterval(timer)};
}

async function finished(run: MigrationRun, label: string): Promise<RunView> {
	const timeout = setTimeout(() => void run.cancel(), runTimeoutMs);
	try {
		const view = await run.done;
		if (view.outcome !== 'ok') throw new Error(`${label}: ${view.message}`);
		return view;
	} finally {
		clearTimeout(timeout);
	}
}

const probeText = (p: Probe) => ('error' in p ? `not measured: ${p.error}` : `${formatMs(p.p95Ms)} (${p.scan})`);

/**
 * Applies the migration to the database at `url` while writers hit jobs and
 * job_applications, and reports the longest write (target: none over 1 s)
 * and any write error, with the job list's p95 before and after. The
 * database is left as it was found: downgraded, duplicates restored, the
 * writers' rows deleted.
 */
export async function benchMigration(url: string): Promise<Array<[string, string]>> {
	const target = resolveTarget({dsn: url, env: {}});
	const plan = builtinPlan;
	const admin = new pg.Client({connectionString: url, application_name: 'intowork-db/bench'});
	admin.on('error', () => undefined);
	await admin.connect();
	const rows: Array<[string, string]> = [];
	try {
		const initial = await migrationStatus(admin, plan);
		if (initial.objects.some(o => o.state !== 'missing')) await finished(startDowngrade({target, plan}), 'downgrade before the bench');
		const duplicates = (await countDuplicates(admin, plan)).some(d => d.groups > 0);
		if (duplicates) await resolveDuplicates({target}, plan);
		const ctx = await appQueryContext(admin);
		const before = await probeJobList(admin, probeRuns);

		const load = startWriters(url, ctx);
		const run = startApply({target, plan, allowNoBackup: true, probe: false});
		const blockers = watchBlockers(run, admin, load.pids);
		let view: RunView;
		let writes: WriteStats;
		try {
			view = await finished(run, 'apply');
		} finally {
			blockers.stop();
			writes = await load.stop();
		}
		const after = await probeJobList(admin, probeRuns);

		await admin.query('DELETE FROM job_applications WHERE id = ANY($1::int[])', [writes.inserted]);
		if (!initial.applied) await finished(startDowngrade({target, plan}), 'downgrade after the bench');
		if (duplicates) await undoDuplicates({target}, plan);

		const built = view.steps.filter(s => s.status === 'done').length;
		rows.push(['migration apply', `${view.outcome} in ${formatDuration((view.finishedAt ?? Date.now()) - view.startedAt)}: ${built} objects, one concurrent build at a time`]);
		rows.push(['writes during apply', `${formatNumber(writes.writes)} (${formatNumber(writes.writes / writes.seconds)}/s, ${writers} writers: UPDATE jobs, INSERT job_applications)`]);
		rows.push(['longest write wait', `${formatMs(writes.maxMs)} (${writes.maxMs <= writeTargetMs ? 'ok' : 'OVER'}: target none over 1 s)`]);
		rows.push(['write p99', formatMs(writes.p99Ms)]);
		rows.push(['write errors', writes.errors === 0 ? '0 (target: none)' : `${writes.errors}: ${writes.firstError}`]);
		rows.push(['job list p95 before', probeText(before)]);
		rows.push(['job list p95 after', probeText(after)]);
		rows.push(['sessions the build waited on, ended', blockers.ended.length ? blockers.ended.join(', ') : 'none']);
		rows.push(['database afterwards', `as found: ${initial.applied ? 'migrated' : `downgraded to ${plan.previousRevision}`}${duplicates ? ', duplicates restored' : ''}, bench rows deleted`]);
		return rows;
	} finally {
		await admin.end().catch(() => undefined);
	}
}
