import path from 'node:path';
import {readJson, targetStateDir, writeJson, type TargetKey} from '../../state.js';

export type RestoreTestResult = {
	at: string;
	passed: boolean;
	/** human-readable differences, empty when passed */
	differences: string[];
	scratchDatabase: string;
	durationMs: number;
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
	/** exact row counts per table, counted in the snapshot the dump used */
	rowCounts: Record<string, number>;
	objects?: {tables: string[]; indexes: string[]; constraints: string[]};
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

/** The newest backup still on disk; with restoreTested, the newest whose restore test passed. */
export function latestBackup(records: readonly BackupRecord[], options: {restoreTested?: boolean} = {}): BackupRecord | undefined {
	return records
		.filter(r => !r.removedAt && (!options.restoreTested || r.restoreTest?.passed))
		.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0];
}
