import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {runBackup} from '../source/actions/backup/backup.js';
import {findPgTools, runTool, toolEnv} from '../source/actions/backup/pg-tools.js';
import {resolveTarget} from '../source/db/dsn.js';
import {formatBytes} from '../source/format.js';

const runs = Number(process.env.BENCH_BACKUPS ?? 3);

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)]!;
}

function seconds(ms: number): string {
	return `${(ms / 1000).toFixed(2)} s`;
}

function rate(bytes: number, ms: number): string {
	return `${(ms / 1000).toFixed(2)} s, ${formatBytes((bytes * 1000) / ms)}/s of database`;
}

/**
 * The console's backup (exported snapshot, exact counts of every table in
 * it, sha256, catalog) against a bare `pg_dump -Fc` of the same database,
 * taken in turns so both see the same cache; the target is within 10 %.
 */
export async function benchBackup(url: string): Promise<Array<[string, string]>> {
	const target = resolveTarget({dsn: url, env: {}});
	const client = new pg.Client({connectionString: url});
	await client.connect();
	const info = (await client.query<{size: string; num: string}>("SELECT pg_database_size(current_database()) AS size, current_setting('server_version_num') AS num")).rows[0]!;
	await client.end();
	const size = Number(info.size);
	const tools = await findPgTools(Math.floor(Number(info.num) / 10000));
	const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-bench-backup-'));
	const env = {...process.env, INTOWORK_DB_STATE: path.join(scratch, 'state')};
	try {
		const bare = async () => {
			const file = path.join(scratch, 'bare.dump');
			const started = Date.now();
			const result = await runTool(tools.pgDump, ['--format=custom', `--file=${file}`, '--no-password'], {env: toolEnv(target)});
			if (!result.ok) throw new Error(result.error);
			const ms = Date.now() - started;
			const bytes = fs.statSync(file).size;
			fs.rmSync(file);
			return {ms, bytes};
		};
		const ours = async () => {
			const started = Date.now();
			// where the time goes, from the progress the backup reports: before pg_dump starts, until pg_dump and the counts are done, after
			let dumping = 0;
			let counted = 0;
			let checksum = 0;
			const record = await runBackup({
				target,
				dir: path.join(scratch, 'backups'),
				env,
				onProgress: p => {
					const at = Date.now() - started;
					if (p.phase === 'dumping' && !dumping) dumping = at;
					if (p.phase === 'dumping' && p.tablesTotal > 0 && p.countedDone === p.tablesTotal && !counted) counted = at;
					if (p.phase === 'checksum' && !checksum) checksum = at;
				},
			});
			const ms = Date.now() - started;
			fs.rmSync(record.file);
			fs.rmSync(`${record.file}.sha256`);
			return {ms, bytes: record.sizeBytes, tables: Object.keys(record.rowCounts).length, phases: {before: dumping, counts: counted - dumping, dump: checksum - dumping, after: ms - checksum}};
		};
		await bare(); // warm-up: both then read from the same cache
		const bareRuns: number[] = [];
		const ourRuns: number[] = [];
		let bareBytes = 0;
		let ourBytes = 0;
		let tables = 0;
		const phases: Array<{before: number; counts: number; dump: number; after: number}> = [];
		for (let i = 0; i < runs; i++) {
			// alternating which goes first, so a machine getting busier or quieter favours neither
			const [b, o] = i % 2 === 0 ? [await bare(), await ours()] : await ours().then(async first => [await bare(), first] as const);
			bareRuns.push(b.ms);
			ourRuns.push(o.ms);
			bareBytes = b.bytes;
			ourBytes = o.bytes;
			tables = o.tables;
			phases.push(o.phases);
		}
		const bareMs = median(bareRuns);
		const ourMs = median(ourRuns);
		// each pair ran back to back under the same load: the median of their ratios is what the machine's drift cannot fake
		const overhead = (median(ourRuns.map((o, i) => o / bareRuns[i]!)) - 1) * 100;
		return [
			['database', `${formatBytes(size)} (pg_database_size), ${tables} tables, pg_dump ${tools.version}`],
			[`bare pg_dump -Fc, median of ${runs}`, `${rate(size, bareMs)}, ${formatBytes(bareBytes)} file`],
			[`intowork-db backup, median of ${runs}`, `${rate(size, ourMs)}, ${formatBytes(ourBytes)} file, every row counted, sha256`],
			[
				`intowork-db backup's phases, median of ${runs}`,
				`${seconds(median(phases.map(p => p.before)))} before pg_dump starts (connect, snapshot, listing, space check); ${seconds(median(phases.map(p => p.dump)))} pg_dump with the counts beside it (the counts done after ${seconds(median(phases.map(p => p.counts)))}); ${seconds(median(phases.map(p => p.after)))} after (sha256, rename, catalog)`,
			],
			[`backup overhead vs bare pg_dump, median of ${runs} alternating pairs`, `${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)} % (target: within 10 %)`],
		];
	} finally {
		fs.rmSync(scratch, {recursive: true, force: true});
	}
}
