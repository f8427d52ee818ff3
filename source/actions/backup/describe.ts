import {formatBytes, formatDuration, formatNumber} from '../../format.js';
import type {BackupProgress} from './backup.js';
import type {BackupRecord, RestoreTestResult} from './catalog.js';
import type {RestoreProgress} from './restore.js';

/** One line of progress, the same on the Backups screen and on a terminal running the headless command. */
export function describeBackupProgress(p: BackupProgress, now = Date.now()): string {
	const elapsed = formatDuration(now - p.startedAt);
	if (p.phase === 'preparing') return `preparing: snapshot, table list, free space · ${elapsed}`;
	if (p.phase === 'checksum') return `sha256 of ${formatBytes(p.bytes)} · ${elapsed}`;
	return `dumping: ${p.tablesDone}/${p.tablesTotal} tables · ${formatBytes(p.bytes)} written · rows counted in ${p.countedDone}/${p.tablesTotal} · ${elapsed}`;
}

export function describeRestoreProgress(p: RestoreProgress, now = Date.now()): string {
	const elapsed = formatDuration(now - p.startedAt);
	const tables = p.tablesTotal ? `${p.tablesDone}/${p.tablesTotal}` : String(p.tablesDone);
	switch (p.phase) {
		case 'checksum':
			return `checking sha256: ${formatBytes(p.bytes)} of ${formatBytes(p.sizeBytes)} · ${elapsed}`;
		case 'creating':
			return `creating the database to restore into · ${elapsed}`;
		case 'restoring':
			return `restoring into ${p.database}: ${tables} tables${p.bytes ? ` · ${formatBytes(p.bytes)} of ${formatBytes(p.sizeBytes)} read` : ''} · ${elapsed}`;
		case 'counting':
			return `counting rows in ${p.database}: ${tables} tables · ${elapsed}`;
		case 'dropping':
			return `dropping ${p.database} · ${elapsed}`;
		case 'renaming':
			return `putting ${p.database} in place · ${elapsed}`;
	}
}

function totalRows(record: BackupRecord): number {
	return Object.values(record.rowCounts).reduce((a, b) => a + b, 0);
}

export function describeBackup(record: BackupRecord): string {
	return `${formatBytes(record.sizeBytes)}, ${Object.keys(record.rowCounts).length} tables, ${formatNumber(totalRows(record))} rows, ${formatDuration(record.durationMs)}, pg_dump ${record.pgDumpVersion ?? '?'}, server ${record.serverVersion}`;
}

/** What a backup cannot hold and is not compared on: pg_dump never dumps an INVALID or not-ready index. */
export function describeLeftOut(record: BackupRecord): string | undefined {
	const invalid = record.objects?.invalidIndexes ?? [];
	if (invalid.length === 0) return undefined;
	return `${invalid.length} INVALID index${invalid.length === 1 ? '' : 'es'} left out (pg_dump never dumps one; not compared after restore): ${invalid.join(', ')}`;
}

export function describeRestoreTest(result: RestoreTestResult, record: BackupRecord, name = record.file): string {
	if (!result.passed) return `restore test FAILED for ${name}: ${result.differences.length} problem${result.differences.length === 1 ? '' : 's'}`;
	const leftOut = describeLeftOut(record);
	return `restore test passed for ${name}: ${Object.keys(record.rowCounts).length} tables and ${formatNumber(totalRows(record))} rows match the snapshot exactly${record.objects ? ', and so do the tables, indexes and constraints' : ''} (${formatDuration(result.durationMs)}, scratch database ${result.scratchDatabase} dropped)${leftOut ? `; ${leftOut}` : ''}`;
}
