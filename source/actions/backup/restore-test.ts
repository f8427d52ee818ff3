import type pg from 'pg';
import {audit, auditContext, type AuditContext} from '../../audit.js';
import type {Target} from '../../db/dsn.js';
import {Cancelled, CliError, errorText, ExitCode, failed} from '../../errors.js';
import {patchRecord, type BackupRecord, type RestoreTestResult} from './catalog.js';
import {verifyChecksum} from './files.js';
import {findPgTools} from './pg-tools.js';
import {createDatabase, databaseExists, databaseShape, dropOwnDatabase, newDatabaseName, progressReporter, restoreAndCompare, type RestoreProgress} from './restore.js';
import {connectFor} from './session.js';
import {targetKey} from '../../state.js';

/** Every scratch database starts with this, so an operator who finds one knows what made it and that it may go. */
export const scratchPrefix = 'intowork_restore_test_';

export type RestoreTestOptions = {
	target: Target;
	record: BackupRecord;
	pgBin?: string;
	signal?: AbortSignal;
	onProgress?(progress: RestoreProgress): void;
	env?: NodeJS.ProcessEnv;
	/** of every session the test opens, pg_restore's or psql's too (a console job's own, to find their pids) */
	applicationName?: string;
};

/**
 * Proves a backup restores: the file still has its sha256, it restores
 * into a scratch database on the target's server, and every table holds
 * exactly the rows counted in the backup's snapshot, with the same tables,
 * indexes and constraints. The scratch database is always dropped. The
 * result (pass or fail, with the differences) goes into the catalog and the
 * audit log. Throws only when the test could not be run at all, or was
 * cancelled.
 */
export async function runRestoreTest(o: RestoreTestOptions): Promise<RestoreTestResult> {
	const {record, target} = o;
	const env = o.env ?? process.env;
	if (record.removedAt) throw new CliError(`${record.file} was removed by retention on ${record.removedAt}`, ExitCode.usage);
	const {report} = progressReporter(record.sizeBytes, Object.keys(record.rowCounts).length, o.onProgress);
	const started = Date.now();
	const run: Run = {ctx: auditContext(target, target.user), scratch: '', created: false};
	const admin = await connectFor(target, o.applicationName ?? 'intowork-db/restore-test');
	let outcome: {result: Omit<RestoreTestResult, 'at' | 'durationMs' | 'scratchDatabase'>} | {error: unknown};
	try {
		outcome = {result: await test(o, admin, run, report)};
	} catch (error) {
		outcome = {error};
	}
	let leftBehind: string | undefined;
	if (run.created) {
		report({phase: 'dropping'});
		await dropOwnDatabase(admin, run.scratch).catch(error => {
			leftBehind = `the scratch database ${run.scratch} could not be dropped (${errorText(error)}); drop it by hand`;
		});
	}
	await admin.end().catch(() => undefined);

	if ('error' in outcome) {
		const {error} = outcome;
		if (o.signal?.aborted || error instanceof Cancelled) {
			audit(run.ctx, {action: 'restore-test', result: 'cancelled', detail: {file: record.file, scratchDatabase: run.scratch}}, env);
			throw new Cancelled(`restore test cancelled; ${leftBehind ?? 'nothing was left behind'}`);
		}
		audit(run.ctx, {action: 'restore-test', result: 'error', detail: {file: record.file, error: errorText(error)}}, env);
		throw new CliError(`restore test could not run: ${errorText(error)}`, error instanceof CliError ? error.exitCode : ExitCode.failed);
	}
	const result: RestoreTestResult = {at: new Date().toISOString(), durationMs: Date.now() - started, scratchDatabase: run.scratch, ...outcome.result};
	patchRecord(targetKey(target), record.id, {restoreTest: result}, env);
	audit(run.ctx, {action: 'restore-test', result: result.passed ? 'passed' : 'failed', detail: {file: record.file, scratchDatabase: run.scratch, differences: result.differences, leftBehind}}, env);
	if (leftBehind) throw failed(`restore test ${result.passed ? 'passed' : 'failed'}, but ${leftBehind}`);
	return result;
}

type Run = {ctx: AuditContext; scratch: string; created: boolean};

async function test(o: RestoreTestOptions, admin: pg.Client, run: Run, report: (patch: Partial<RestoreProgress>) => void): Promise<Omit<RestoreTestResult, 'at' | 'durationMs' | 'scratchDatabase'>> {
	const {record, target} = o;
	const info = (
		await admin.query<{num: string; role: string; can_create: boolean}>(
			"SELECT current_setting('server_version_num') AS num, current_user AS role, rolsuper OR rolcreatedb AS can_create FROM pg_roles WHERE rolname = current_user",
		)
	).rows[0]!;
	run.ctx = auditContext(target, info.role);
	if (!info.can_create) throw failed(`role ${info.role} cannot create databases, and the restore test needs a scratch one: ALTER ROLE ${info.role} CREATEDB, or test with a role that has it`);
	const tools = await findPgTools(Math.floor(Number(info.num) / 10000), {pgBin: o.pgBin});

	const check = await verifyChecksum(record.file, record, {signal: o.signal, onBytes: bytes => report({bytes})});
	if (check.state !== 'ok') return {passed: false, differences: [check.reason!], checksum: check.state};
	o.signal?.throwIfAborted();

	report({phase: 'creating'});
	run.scratch = newDatabaseName(scratchPrefix);
	if (run.scratch === target.database || (await databaseExists(admin, run.scratch))) throw failed(`scratch database ${run.scratch} already exists; not touching it`);
	const shape = await databaseShape(admin, target.database);
	if (!shape) throw failed(`database ${target.database} is not in pg_database`);
	await createDatabase(admin, run.scratch, shape);
	run.created = true;
	try {
		const result = await restoreAndCompare({target, admin, database: run.scratch, file: record.file, format: record.format, tools, expected: record, applicationName: o.applicationName, signal: o.signal, report});
		return {passed: result.differences.length === 0, differences: result.differences, checksum: 'ok', sizeBytes: record.sizeBytes, sha256: record.sha256};
	} catch (error) {
		if (o.signal?.aborted || error instanceof Cancelled) throw error;
		// The archive did not restore: the test failed, rather than could not run.
		return {passed: false, differences: [`restore failed: ${errorText(error)}`], checksum: 'ok', sizeBytes: record.sizeBytes, sha256: record.sha256};
	}
}
