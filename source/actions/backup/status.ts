import fs from 'node:fs';
import path from 'node:path';
import type {Loader} from '../../store/poller.js';
import type {TargetKey} from '../../state.js';
import {readCatalog, type BackupRecord} from './catalog.js';
import {diskSpace, sidecarPath, type DiskSpace} from './files.js';
import {errorText} from '../../errors.js';

export type BackupServerInfo = {databaseSize: number};

/** The server's side of the Backups screen; the rest is on this machine's disk. */
export const loadBackupServerInfo: Loader<BackupServerInfo> = async ({db}) => {
	const r = await db.query<{size: string}>('SELECT pg_database_size(current_database()) AS size');
	return {databaseSize: Number(r.rows[0]?.size ?? 0)};
};

export type ChecksumState = 'verified' | 'recorded' | 'mismatch' | 'missing' | 'size changed' | 'no sidecar' | 'removed';

/**
 * What can be said about a file's checksum without reading it all:
 * `verified` when the last restore test read every byte and it matched,
 * `recorded` when the size is right and the .sha256 is beside it.
 */
export function checksumState(record: BackupRecord): ChecksumState {
	if (record.removedAt) return 'removed';
	let size: number;
	try {
		size = fs.statSync(record.file).size;
	} catch {
		return 'missing';
	}
	if (size !== record.sizeBytes) return 'size changed';
	if (record.restoreTest?.checksum === 'mismatch') return 'mismatch';
	if (!fs.existsSync(sidecarPath(record.file))) return 'no sidecar';
	return record.restoreTest?.checksum === 'ok' ? 'verified' : 'recorded';
}

export type LocalStatus = {
	/** newest first */
	records: Array<BackupRecord & {checksumState: ChecksumState}>;
	space?: DiskSpace;
	spaceError?: string;
};

export function readLocalStatus(key: TargetKey, dir: string, env: NodeJS.ProcessEnv = process.env): LocalStatus {
	const records = readCatalog(key, env)
		.sort((a, b) => b.startedAt.localeCompare(a.startedAt))
		.map(r => ({...r, checksumState: checksumState(r)}));
	try {
		// the directory may not exist before the first backup; its parent's disk is the one that counts
		let probe = dir;
		while (!fs.existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
		return {records, space: diskSpace(probe)};
	} catch (error) {
		return {records, spaceError: errorText(error)};
	}
}
