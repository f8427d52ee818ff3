import fs from 'node:fs';
import path from 'node:path';
import {readJson, targetStateDir, writeJson, type TargetKey} from '../../state.js';

export type RestoreTestResult = {
	at: string;
	passed: boolean;
	/** human-readable differences, empty when passed */
	differences: string[];
	scratchDatabase: string;
	durationMs: number;
	/** whether the file still had the recorded sha256 when the test read it */
	checksum?: 'ok' | 'mismatch' | 'missing';
	/** the file the test restored: its result holds only while the file still has this size and sha256 */
	sizeBytes?: number;
	sha256?: string;
};

export type Inventory = {
	/** exact row counts per table (schema-qualified, quoted as PostgreSQL quotes them) */
	rowCounts: Record<string, number>;
	objects: {
		tables: string[];
		/** valid indexes only: what pg_dump dumps */
		indexes: string[];
		constraints: string[];
		/** INVALID (or not yet ready) indexes at backup time, which pg_dump leaves out; not compared */
		invalidIndexes?: string[];
	};
};

export type BackupRecord = {
	id: string;
	/** absolute path of the finished file */
	file: string;
	format: 'custom' | 'plain';
	sizeBytes: number;
	sha256: string;
	startedAt: string;
	finishedAt: string;
	durationMs: number;
	serverVersion: string;
	database: string;
	/** pg_control_system().system_identifier of the server the backup was taken on */
	systemIdentifier?: string;
	/** exact row counts per table, counted in the snapshot the dump used */
	rowCounts: Record<string, number>;
	objects?: Inventory['objects'];
	/** the pg_dump that wrote the file, e.g. "15.18" */
	pgDumpVersion?: string;
	restoreTest?: RestoreTestResult;
	/** set when retention removed the file */
	removedAt?: string;
};

/** The catalog of backups taken of one target database, kept in the console's state directory. */
export function catalogFile(key: TargetKey, env: NodeJS.ProcessEnv = process.env): string {
	return path.join(targetStateDir(key, env), 'backups.json');
}

export function readCatalog(key: TargetKey, env: NodeJS.ProcessEnv = process.env): BackupRecord[] {
	return readJson<BackupRecord[]>(catalogFile(key, env), []);
}

export function writeCatalog(key: TargetKey, records: BackupRecord[], env: NodeJS.ProcessEnv = process.env): void {
	writeJson(catalogFile(key, env), records);
}

const lockWaitMs = 5000;
// A holder that died mid-update leaves its lock behind; no update takes this long.
const staleLockMs = 30_000;

function sleepSync(ms: number): void {
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function acquireLock(lock: string): number {
	const deadline = Date.now() + lockWaitMs;
	for (;;) {
		try {
			return fs.openSync(lock, 'wx', 0o600);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		try {
			if (Date.now() - fs.statSync(lock).mtimeMs > staleLockMs) {
				fs.rmSync(lock, {force: true});
				continue;
			}
		} catch {
			continue; // released between our open and stat
		}
		if (Date.now() > deadline) throw new Error(`the backup catalog is locked by another intowork-db (${lock}); try again, or remove the lock if no backup is running`);
		sleepSync(20);
	}
}

/**
 * Read-modify-write under a lock file: the console and a cron backup may
 * finish at the same moment, and neither may lose the other's record.
 */
export function updateCatalog(key: TargetKey, change: (records: BackupRecord[]) => BackupRecord[], env: NodeJS.ProcessEnv = process.env): BackupRecord[] {
	const file = catalogFile(key, env);
	const lock = `${file}.lock`;
	const fd = acquireLock(lock);
	try {
		const next = change(readCatalog(key, env));
		writeCatalog(key, next, env);
		return next;
	} finally {
		fs.closeSync(fd);
		fs.rmSync(lock, {force: true});
	}
}

export function patchRecord(key: TargetKey, id: string, patch: Partial<BackupRecord>, env: NodeJS.ProcessEnv = process.env): void {
	updateCatalog(key, records => records.map(r => (r.id === id ? {...r, ...patch} : r)), env);
}

/** The record of a file, by its real path, so a relative or symlinked path still finds it. */
export function findRecordByFile(records: readonly BackupRecord[], file: string): BackupRecord | undefined {
	const wanted = realpathOr(file);
	return records.find(r => !r.removedAt && realpathOr(r.file) === wanted);
}

function realpathOr(file: string): string {
	try {
		return fs.realpathSync(file);
	} catch {
		return path.resolve(file);
	}
}

/** The newest backup still on disk; with restoreTested, the newest whose restore test passed. */
export function latestBackup(records: readonly BackupRecord[], options: {restoreTested?: boolean} = {}): BackupRecord | undefined {
	return records
		.filter(r => !r.removedAt && (!options.restoreTested || r.restoreTest?.passed))
		.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0];
}
