import path from 'node:path';
import {runBackup} from '../actions/backup/backup.js';
import {findRecordByFile, latestBackup, readCatalog, type BackupRecord} from '../actions/backup/catalog.js';
import {describeBackup, describeBackupProgress, describeLeftOut, describeRestoreProgress, describeRestoreTest} from '../actions/backup/describe.js';
import {defaultBackupDir, type BackupFormat} from '../actions/backup/files.js';
import {runRestore} from '../actions/backup/restore.js';
import {runRestoreTest} from '../actions/backup/restore-test.js';
import {applyRetention, describePolicy, type RetentionPolicy} from '../actions/backup/retention.js';
import {auditContext} from '../audit.js';
import {targetKey} from '../state.js';
import {parsePositiveInt} from '../cli-args.js';
import type {Target} from '../db/dsn.js';
import {CliError, ExitCode, UsageError} from '../errors.js';
import {formatDuration, formatNumber} from '../format.js';
import {openFromFlags} from '../session.js';
import {phaseProgress, type PhaseProgress} from './progress.js';
import type {Subcommand, SubcommandContext} from './types.js';

/** Ctrl-C or a kill stops the tool and cleans up (partial file, scratch database) before the process ends. */
function interruptible(): {signal: AbortSignal; dispose(): void} {
	const controller = new AbortController();
	const stop = () => controller.abort();
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
	return {
		signal: controller.signal,
		dispose() {
			process.off('SIGINT', stop);
			process.off('SIGTERM', stop);
		},
	};
}

const changesDisk = (name: string) => () => `${name} changes the disk or the server, and --read-only was given`;

function noArguments(ctx: SubcommandContext, name: string, max = 0): void {
	if (ctx.input.length > max) throw new UsageError(`${name}: unexpected argument "${ctx.input[max]}" (give the target with --dsn or DATABASE_URL)`);
}

async function withTarget<T>(ctx: SubcommandContext, progress: PhaseProgress, run: (target: Target) => Promise<T>): Promise<T> {
	// Something on stderr at once: a server that takes long to answer must not look like a hung command.
	progress.show('connecting', 'connecting to the server');
	// The actions use connections of their own; opening the target first gives a bad DSN or a down server its usual one-line error.
	const opened = await openFromFlags(ctx.global).finally(() => progress.clear());
	try {
		return await run(opened.target);
	} finally {
		await opened.close();
	}
}

function readFormat(raw: unknown): BackupFormat {
	if (raw === undefined || raw === 'custom') return 'custom';
	if (raw === 'plain') return 'plain';
	throw new UsageError(`--format: "${String(raw)}" is not custom or plain`);
}

function readPolicy(flags: Record<string, unknown>): RetentionPolicy | undefined {
	if (flags.keep !== undefined && flags.keepDays !== undefined) throw new UsageError('give either --keep N or --keep-days N, not both');
	if (flags.keep !== undefined) return {keep: parsePositiveInt(flags.keep, 'keep')};
	if (flags.keepDays !== undefined) return {keepDays: parsePositiveInt(flags.keepDays, 'keep-days')};
	return undefined;
}

/** Runs the restore test and prints its outcome; true when it passed. */
async function restoreTestAndReport(ctx: SubcommandContext, target: Target, record: BackupRecord, signal: AbortSignal, progress: PhaseProgress): Promise<boolean> {
	try {
		const result = await runRestoreTest({target, record, pgBin: ctx.global.pgBin, signal, onProgress: p => progress.show(`restore test ${p.phase}`, describeRestoreProgress(p))});
		progress.clear();
		ctx.out(describeRestoreTest(result, record));
		for (const d of result.differences) ctx.out(`  ${d}`);
		return result.passed;
	} finally {
		progress.clear();
	}
}

export const backupCommand: Subcommand = {
	name: 'backup',
	summary: 'back up with pg_dump in an exported snapshot, record exact row counts and sha256',
	usage: ['backup [--format custom|plain] [--dir DIR] [--keep N | --keep-days N] [--verify]'],
	flags: {
		format: {type: 'string'},
		dir: {type: 'string'},
		keep: {type: 'string'},
		keepDays: {type: 'string'},
		verify: {type: 'boolean', default: false},
	},
	readOnlyRefusal: changesDisk('backup'),
	async run(ctx) {
		noArguments(ctx, 'backup');
		const format = readFormat(ctx.flags.format);
		const policy = readPolicy(ctx.flags);
		const progress = phaseProgress();
		return withTarget(ctx, progress, async target => {
			const {signal, dispose} = interruptible();
			try {
				const dir = path.resolve((ctx.flags.dir as string | undefined) ?? defaultBackupDir(targetKey(target)));
				const record = await runBackup({target, format, dir, pgBin: ctx.global.pgBin, signal, onProgress: p => progress.show(`backup ${p.phase}`, describeBackupProgress(p))});
				progress.clear();
				ctx.out(`backup ok: ${record.file}`);
				ctx.out(`  ${describeBackup(record)}`);
				ctx.out(`  sha256 ${record.sha256}`);
				const leftOut = describeLeftOut(record);
				if (leftOut) ctx.out(`  ${leftOut}`);
				if (ctx.flags.verify && !(await restoreTestAndReport(ctx, target, record, signal, progress))) {
					if (policy) ctx.out('retention skipped: the new backup failed its restore test');
					return ExitCode.failed;
				}
				if (policy) {
					const plan = applyRetention(auditContext(target, target.user), dir, policy);
					const label = `retention (${describePolicy(policy)})`;
					if (plan.note) ctx.out(`${label}: ${plan.note}`);
					else if (plan.remove.length === 0) ctx.out(`${label}: nothing to remove`);
					else {
						ctx.out(`${label}: removed ${plan.remove.length}, all older than ${path.basename(plan.anchor!.file)}, which passed its restore test:`);
						for (const r of plan.remove) ctx.out(`  removed ${r.file} (${r.finishedAt})`);
					}
				}
				return ExitCode.ok;
			} finally {
				progress.clear();
				dispose();
			}
		});
	},
};

export const restoreTestCommand: Subcommand = {
	name: 'restore-test',
	summary: 'restore a backup into a scratch database and compare every row count (latest by default)',
	usage: ['restore-test [FILE]'],
	flags: {},
	readOnlyRefusal: changesDisk('restore-test'),
	async run(ctx) {
		noArguments(ctx, 'restore-test', 1);
		const file = ctx.input[0];
		const progress = phaseProgress();
		return withTarget(ctx, progress, async target => {
			const records = readCatalog(targetKey(target));
			const record = file ? findRecordByFile(records, file) : latestBackup(records);
			if (!record) {
				throw new CliError(
					file ? `${file} is not in the backup catalog of ${target.database} (only backups taken by intowork-db backup have the row counts to compare)` : `no backups of ${target.database} in the catalog; take one with intowork-db backup`,
					ExitCode.failed,
				);
			}
			const {signal, dispose} = interruptible();
			try {
				return (await restoreTestAndReport(ctx, target, record, signal, progress)) ? ExitCode.ok : ExitCode.failed;
			} finally {
				dispose();
			}
		});
	},
};

export const restoreCommand: Subcommand = {
	name: 'restore',
	summary: 'restore a verified backup into a database on the target server (never the source)',
	usage: ['restore FILE --into DB [--force]'],
	flags: {
		into: {type: 'string'},
		force: {type: 'boolean', default: false},
	},
	readOnlyRefusal: changesDisk('restore'),
	async run(ctx) {
		noArguments(ctx, 'restore', 1);
		const file = ctx.input[0];
		const into = ctx.flags.into as string | undefined;
		if (!file) throw new UsageError('restore: which file? intowork-db restore FILE --into DB');
		if (!into) throw new UsageError('restore: --into DB is required: the database to restore into');
		const progress = phaseProgress();
		return withTarget(ctx, progress, async target => {
			const {signal, dispose} = interruptible();
			try {
				const outcome = await runRestore({target, file: path.resolve(file), into, force: Boolean(ctx.flags.force), pgBin: ctx.global.pgBin, signal, onProgress: p => progress.show(`restore ${p.phase}`, describeRestoreProgress(p))});
				progress.clear();
				const check = outcome.compared ? 'row counts, tables, indexes and constraints match the backup' : 'no recorded row counts to compare (not in the catalog)';
				ctx.out(`restored ${file} into ${outcome.into}${outcome.replaced ? ' (replacing it)' : ''}: ${outcome.tables} tables, ${formatNumber(outcome.rows)} rows; ${check} (${formatDuration(outcome.durationMs)})`);
				if (outcome.unverified) ctx.out(`  ${outcome.unverified}`);
				if (outcome.keptAside) ctx.out(`  ${outcome.keptAside}`);
				return ExitCode.ok;
			} finally {
				progress.clear();
				dispose();
			}
		});
	},
};
